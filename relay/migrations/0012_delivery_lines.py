from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("relay", "0011_template_history_line")]
    operations: list = []
