from django.db import migrations


class Migration(migrations.Migration):
    """The insight app's starting point; its models come in the migrations after this one."""

    initial = True
    dependencies = [("cases", "0003_cycles")]
    operations = []
