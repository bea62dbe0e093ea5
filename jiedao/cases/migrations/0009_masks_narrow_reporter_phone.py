"""Narrow the stored reporter-phone masks (issue 12): the first 3 and last 2 digits, cut from the
old mask (nothing is decrypted)."""

from django.db import migrations


def narrow(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    rows = Case.objects.exclude(reporter_phone_masked="").values_list("pk", "reporter_phone_masked")
    changed = []
    for pk, value in rows.iterator(chunk_size=2000):
        new = value[:3] + "*" * (len(value) - 5) + value[-2:] if len(value) > 5 else "*" * len(value)
        if new != value:
            changed.append(Case(pk=pk, reporter_phone_masked=new))
    Case.objects.bulk_update(changed, ["reporter_phone_masked"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [("cases", "0008_figures_by_the_book")]
    operations = [migrations.RunPython(narrow, migrations.RunPython.noop)]
