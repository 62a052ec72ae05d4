from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("relay", "0012_delivery_lines")]
    operations: list = []
