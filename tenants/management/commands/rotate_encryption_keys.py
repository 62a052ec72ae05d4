"""Re-encrypt every stored secret under the newest key in ENCRYPTION_KEYS.

Rotation: put a new key first in ENCRYPTION_KEYS (keep the old ones after it), deploy, run this
command, then remove the old keys.
"""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import TextField
from django.db.models.functions import Cast

from tenants.crypto import DecryptionError, keyring
from tenants.fields import EncryptedTextField


class Command(BaseCommand):
    help = "Re-encrypt all secrets under the newest key of ENCRYPTION_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="only count what would change")

    def handle(self, *args, dry_run=False, **options):
        ring = keyring()
        total = failed = 0
        for model in apps.get_models():
            names = [f.name for f in model._meta.get_fields() if isinstance(f, EncryptedTextField)]
            for name in names:
                rows = (
                    model._base_manager.exclude(**{name: ""})
                    .annotate(_raw=Cast(name, output_field=TextField()))
                    .values_list("pk", "_raw")
                )
                for pk, raw in rows.iterator():
                    try:
                        if not ring.needs_rotation(raw):
                            continue
                        plaintext = ring.decrypt(raw)
                    except DecryptionError as exc:
                        failed += 1
                        self.stderr.write(f"{model._meta.label} #{pk} {name}: {exc}")
                        continue
                    total += 1
                    if not dry_run:
                        with transaction.atomic():
                            model._base_manager.filter(pk=pk).update(**{name: plaintext})
        verb = "would re-encrypt" if dry_run else "re-encrypted"
        self.stdout.write(
            f"{verb} {total} secret(s) under key {ring.current_id}; {failed} could not be read."
        )
        if failed:
            raise SystemExit(1)
