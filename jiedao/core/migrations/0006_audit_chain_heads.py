"""Create the heads of all audit chains up front, so a chain deleted whole is noticed."""

from django.db import migrations

CHAIN_COUNT = 16


def create_heads(apps, schema_editor):
    AuditChainHead = apps.get_model("core", "AuditChainHead")
    for n in range(CHAIN_COUNT):
        AuditChainHead.objects.get_or_create(chain=f"main-{n:02d}")


class Migration(migrations.Migration):
    dependencies = [("core", "0005_job_run")]
    operations = [migrations.RunPython(create_heads, migrations.RunPython.noop)]
