# A slot reserved so that work done in parallel gets one migration chain: its owner fills in the operations.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("relay", "0009_listener_shards"),
    ]

    operations: list = []
