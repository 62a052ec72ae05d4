"""``python manage.py sandbox``: the same as ``python -m sandbox``."""

from django.core.management.base import BaseCommand

from sandbox.__main__ import main


class Command(BaseCommand):
    help = "Run the Salesforce and provider simulators (HTTP and Pub/Sub gRPC)."

    def add_arguments(self, parser):
        parser.add_argument(
            "args", nargs="*", help="options passed to the sandbox (see python -m sandbox --help)"
        )

    def run_from_argv(self, argv):
        main(argv[2:])
