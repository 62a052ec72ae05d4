# The Cases desk's settings on the Salesforce connection (relay/desks/cases.py, docs/cases.md).
import django.core.validators
from django.db import migrations, models

import tenants.case_settings
import tenants.validators


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0006_enhanced_chat"),
    ]

    operations = [
        migrations.AddField(
            model_name="salesforceconnection",
            name="case_create_contacts",
            field=models.BooleanField(
                default=True, help_text="Create a Contact when none has the customer's phone number."
            ),
        ),
        migrations.AddField(
            model_name="salesforceconnection",
            name="case_default_queue_id",
            field=models.CharField(
                blank=True,
                help_text="Queue (Group id, 00G…) that owns a new Case when no routing rule names one.",
                max_length=18,
                validators=[tenants.validators.SalesforceIdValidator("queue")],
                verbose_name="Default owner queue",
            ),
        ),
        migrations.AddField(
            model_name="salesforceconnection",
            name="case_field_mapping",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text='Case field → value or placeholder, e.g. {"Brand__c": "Acme", "Phone__c": "{customer}"}.',
                validators=[tenants.case_settings.validate_field_mapping],
                verbose_name="Case field mapping",
            ),
        ),
        migrations.AddField(
            model_name="salesforceconnection",
            name="case_origins",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text='e.g. {"whatsapp": "WhatsApp", "sms": "SMS"}; a channel not named: its name.',
                validators=[tenants.case_settings.validate_origins],
                verbose_name="Case origin per channel",
            ),
        ),
        migrations.AddField(
            model_name="salesforceconnection",
            name="case_reopen_hours",
            field=models.PositiveIntegerField(
                default=0,
                help_text="A customer writing within this many hours of the Case closing reopens it; 0: a new Case.",
                validators=[django.core.validators.MaxValueValidator(8760)],
                verbose_name="Reopen window (hours)",
            ),
        ),
        migrations.AddField(
            model_name="salesforceconnection",
            name="case_reopen_status",
            field=models.CharField(
                default="New",
                help_text="The Status a reopened Case gets (a value of the picklist).",
                max_length=40,
            ),
        ),
        migrations.AddField(
            model_name="salesforceconnection",
            name="case_status_texts",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text='e.g. {"Working": "An agent is looking at your request."}; Closed uses the closing text.',
                validators=[tenants.case_settings.validate_status_texts],
                verbose_name="Text to the customer per Case status",
            ),
        ),
        migrations.AddField(
            model_name="salesforceconnection",
            name="case_transcript",
            field=models.CharField(
                choices=[("feed", "Feed items (Chatter)"), ("comment", "Case comments")],
                default="feed",
                help_text="Where every message of the conversation is written on the Case.",
                max_length=10,
                verbose_name="Case transcript as",
            ),
        ),
        migrations.AlterField(
            model_name="salesforceconnection",
            name="desk",
            field=models.CharField(
                choices=[
                    ("messaging", "Messaging (Bring Your Own Channel)"),
                    ("livechat", "Legacy Chat (retired by Salesforce on 2026-02-14)"),
                    ("enhanced_chat", "Enhanced Chat (Messaging for In-App and Web)"),
                    ("cases", "Cases (Service Cloud Case per conversation)"),
                ],
                default="messaging",
                max_length=20,
            ),
        ),
    ]
