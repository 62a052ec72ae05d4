# Issue 16 (performance): a Salesforce notice is claimed in batches by a token (relay/outbound/notices.py).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("relay", "0009_listener_shards"),
    ]

    operations: list = [
        migrations.AddField(
            model_name="salesforcenotice",
            name="claim",
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
        migrations.AddIndex(
            model_name="salesforcenotice",
            index=models.Index(
                condition=models.Q(("claim__isnull", False)), fields=["claim"], name="relay_notice_claim"
            ),
        ),
    ]
