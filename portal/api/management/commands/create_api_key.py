"""``python manage.py create_api_key --partner demo``: issue a partner API key and print it, once.

The key is the only thing on standard output, so ``KEY=$(python manage.py create_api_key --partner demo)``
works; everything else goes to standard error. A partner slug that does not exist yet is created.
``--tenant <slug>`` issues a tenant admin's key instead.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tenants.models import ApiKey, Partner, Tenant


class Command(BaseCommand):
    help = "Issue a partner (or tenant admin) API key and print it once."

    def add_arguments(self, parser):
        owner = parser.add_mutually_exclusive_group(required=True)
        owner.add_argument("--partner", help="Partner slug (created if missing).")
        owner.add_argument("--tenant", help="Tenant slug: a tenant admin's key for this tenant only.")
        parser.add_argument("--partner-name", help="Name of a partner created now (default: the slug).")
        parser.add_argument(
            "--name", default="", help="What the key is for (shown in the admin and the API)."
        )

    @transaction.atomic
    def handle(self, *args, partner, tenant, partner_name, name, **options):
        if partner:
            owner, created = Partner.objects.get_or_create(
                slug=partner, defaults={"name": partner_name or partner}
            )
            if created:
                self.stderr.write(f"Created partner {owner.name} ({owner.slug}).")
            key, plaintext = ApiKey.issue(name=name or f"{owner.slug} key", partner=owner)
        else:
            owner = Tenant.objects.filter(slug=tenant).first()
            if owner is None:
                raise CommandError(f"No tenant with slug {tenant!r}.")
            key, plaintext = ApiKey.issue(name=name or f"{owner.slug} admin key", tenant=owner)
        self.stderr.write(f"API key {key} for {owner}. Copy it now: it is not shown again.")
        self.stdout.write(plaintext)
