# The Cases desk's rows: the Case of a conversation and the transcript record of each message.
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("relay", "0007_enhanced_chat"),
        ("tenants", "0007_cases"),
    ]

    operations = [
        migrations.CreateModel(
            name="CaseLink",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "case_id",
                    models.CharField(
                        blank=True, db_index=True, help_text="18-character Case id.", max_length=18
                    ),
                ),
                ("case_number", models.CharField(blank=True, max_length=30)),
                ("subject", models.CharField(blank=True, max_length=255)),
                (
                    "status",
                    models.CharField(blank=True, help_text="The Case's Status as last seen.", max_length=40),
                ),
                ("is_closed", models.BooleanField(default=False)),
                ("closed_at", models.DateTimeField(blank=True, null=True)),
                ("contact_id", models.CharField(blank=True, max_length=18)),
                (
                    "owner_id",
                    models.CharField(blank=True, help_text="User (005) or queue (00G).", max_length=18),
                ),
                ("create_started_at", models.DateTimeField(blank=True, null=True)),
                ("reopened_count", models.PositiveSmallIntegerField(default=0)),
                ("last_commit_number", models.BigIntegerField(default=0)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "conversation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="case_links",
                        to="relay.conversation",
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
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="CaseEntry",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "record_id",
                    models.CharField(
                        blank=True, help_text="FeedItem (0D5) or CaseComment (00a).", max_length=18
                    ),
                ),
                ("file_ids", models.JSONField(blank=True, default=list)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("last_error", models.TextField(blank=True)),
                ("next_attempt_at", models.DateTimeField(blank=True, db_index=True, null=True)),
                ("written_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "message",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="case_entry",
                        to="relay.message",
                    ),
                ),
                (
                    "tenant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.tenant"
                    ),
                ),
                (
                    "case_link",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="entries",
                        to="relay.caselink",
                    ),
                ),
            ],
        ),
        migrations.AddConstraint(
            model_name="caselink",
            constraint=models.UniqueConstraint(
                condition=models.Q(("case_id", ""), _negated=True),
                fields=("tenant", "case_id"),
                name="one_link_per_case",
            ),
        ),
        migrations.AddConstraint(
            model_name="caselink",
            constraint=models.UniqueConstraint(
                condition=models.Q(("is_closed", False)),
                fields=("conversation",),
                name="one_open_case_per_conversation",
            ),
        ),
        migrations.AddIndex(
            model_name="caseentry",
            index=models.Index(
                condition=models.Q(("written_at", None)),
                fields=["next_attempt_at"],
                name="case_entry_due_idx",
            ),
        ),
    ]
