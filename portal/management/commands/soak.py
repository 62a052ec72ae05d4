"""``manage.py soak [options]``: the same as ``python -m bench soak [options]`` (docs/benchmarks.md)."""

from __future__ import annotations

import os
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the fault soak (python -m bench soak): messages both ways through faults, checked exactly-once and in order."

    def run_from_argv(self, argv):
        # The run sets up its own database and settings for every process it starts, so it replaces this
        # process instead of running inside Django's (options are passed through; --help lists them).
        os.execv(sys.executable, [sys.executable, "-m", "bench", "soak", *argv[2:]])  # noqa: S606

    def handle(self, *args, **options):  # pragma: no cover - run_from_argv never returns
        raise NotImplementedError
