# A slot reserved so that work done in parallel gets one migration chain: its owner fills in the operations.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("relay", "0006_livechat_session"),
        ("tenants", "0006_enhanced_chat"),
    ]

    operations: list = []
