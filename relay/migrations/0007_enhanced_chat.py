# The Enhanced Chat desk (issue 18): one row per Enhanced Chat conversation, and the tenant's hidden pre-chat fields.
import django.db.models.deletion
from django.db import migrations, models

import tenants.fields


class Migration(migrations.Migration):
    dependencies = [
        ("relay", "0006_livechat_session"),
        ("tenants", "0006_enhanced_chat"),
    ]

    operations = [
        migrations.CreateModel(
            name="EnhancedChatPrechatField",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "name",
                    models.CharField(
                        help_text="The hidden pre-chat field's API name, as the Embedded Service deployment names it.",
                        max_length=80,
                    ),
                ),
                ("value", models.CharField(max_length=255)),
                ("position", models.PositiveSmallIntegerField(default=0)),
                (
                    "tenant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.tenant"
                    ),
                ),
            ],
            options={
                "ordering": ["position", "id"],
                "constraints": [
                    models.UniqueConstraint(fields=("tenant", "name"), name="one_enhanced_chat_prechat_field_per_name")
                ],
            },
        ),
        migrations.CreateModel(
            name="EnhancedChatSession",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "status",
                    models.CharField(
                        choices=[("opening", "Being opened"), ("open", "Open"), ("closed", "Closed")],
                        default="opening",
                        max_length=10,
                    ),
                ),
                (
                    "conversation_uuid",
                    models.CharField(
                        help_text="The Enhanced Chat conversationId (a UUID Switchboard chose).",
                        max_length=36,
                        unique=True,
                    ),
                ),
                (
                    "access_token",
                    tenants.fields.EncryptedTextField(
                        blank=True, default="", help_text="The end user's access token (a secret)."
                    ),
                ),
                ("token_expires_at", models.DateTimeField(blank=True, null=True)),
                (
                    "last_event_id",
                    models.CharField(
                        blank=True,
                        help_text="The last stream event recorded: the stream resumes after it.",
                        max_length=255,
                    ),
                ),
                ("agent_id", models.CharField(blank=True, max_length=64)),
                ("agent_name", models.CharField(blank=True, max_length=255)),
                ("end_reason", models.CharField(blank=True, max_length=40)),
                ("ended_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "conversation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="enhanced_chat_sessions",
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
                "indexes": [models.Index(fields=["status"], name="enhanced_chat_status_idx")],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("status__in", ["opening", "open"])),
                        fields=("conversation",),
                        name="one_open_enhanced_chat_per_conversation",
                    )
                ],
            },
        ),
    ]
