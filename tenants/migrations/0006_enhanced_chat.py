# The Enhanced Chat desk (issue 18): the desk choice and the Embedded Service deployment's API name.
import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0005_salesforce_domains"),
    ]

    operations = [
        migrations.AddField(
            model_name="salesforceconnection",
            name="es_developer_name",
            field=models.CharField(
                blank=True,
                help_text="The API Name of the Embedded Service deployment (Setup → Embedded Service Deployments).",
                max_length=80,
                validators=[
                    django.core.validators.RegexValidator(
                        "^[A-Za-z](?:[A-Za-z0-9]|_(?!_))*(?<!_)$",
                        "The API Name of an Embedded Service deployment: letters, digits and single underscores, "
                        "starting with a letter (e.g. Switchboard_Chat).",
                    )
                ],
                verbose_name="Embedded Service deployment",
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
                ],
                default="messaging",
                max_length=20,
            ),
        ),
    ]
