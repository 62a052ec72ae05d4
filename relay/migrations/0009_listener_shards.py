# relay_listen processes and the leases by which they share the tenants (relay/salesforce/shards.py).
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("relay", "0008_cases"),
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ListenerLease",
            fields=[
                (
                    "tenant",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="listener_lease",
                        serialize=False,
                        to="tenants.tenant",
                    ),
                ),
                ("holder", models.CharField(blank=True, db_index=True, max_length=100)),
                ("expires_at", models.DateTimeField()),
                ("since", models.DateTimeField(blank=True, help_text="When the holder took it.", null=True)),
            ],
            options={
                "verbose_name": "listener lease",
            },
        ),
        migrations.CreateModel(
            name="ListenerProcess",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "holder",
                    models.CharField(
                        help_text="host:pid:random, unique per start.", max_length=100, unique=True
                    ),
                ),
                ("host", models.CharField(blank=True, max_length=255)),
                ("pid", models.PositiveIntegerField(default=0)),
                ("started_at", models.DateTimeField()),
                ("heartbeat_at", models.DateTimeField()),
                (
                    "expires_at",
                    models.DateTimeField(
                        db_index=True, help_text="Counted as dead after this (database time)."
                    ),
                ),
                (
                    "tenants",
                    models.PositiveIntegerField(
                        default=0, help_text="Tenants it held at its last heartbeat."
                    ),
                ),
            ],
            options={
                "verbose_name": "listener process",
                "ordering": ("started_at",),
            },
        ),
    ]
