# The template-history import on the delivery engine: a row per import (relay/outbound/template_history.py).
import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("relay", "0010_performance"),
        ("tenants", "0001_initial"),
    ]

    operations: list = [
        migrations.CreateModel(
            name="TemplateHistoryImport",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("recorded", "Recorded in Salesforce"),
                            ("unavailable", "Not available for this org"),
                            ("skipped", "Skipped: not on a Messaging desk"),
                            ("failed", "Failed"),
                        ],
                        default="pending",
                        max_length=12,
                    ),
                ),
                ("attempts", models.PositiveIntegerField(default=0)),
                (
                    "internal_errors",
                    models.PositiveSmallIntegerField(
                        default=0,
                        help_text="Tries that failed on an error of Switchboard's own (RELAY_MAX_INTERNAL_ERRORS).",
                    ),
                ),
                ("next_attempt_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("claimed_until", models.DateTimeField(blank=True, editable=False, null=True)),
                ("last_error", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "message",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="history_import",
                        to="relay.message",
                    ),
                ),
                (
                    "tenant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.tenant"
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("status", "pending")),
                        fields=["next_attempt_at"],
                        name="relay_history_import_due",
                    )
                ],
            },
        ),
    ]
