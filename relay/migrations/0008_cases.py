# A slot reserved so that work done in parallel gets one migration chain: its owner fills in the operations.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("relay", "0007_enhanced_chat"),
        ("tenants", "0007_cases"),
    ]

    operations: list = []
