"""Narrow the stored masks (issue 12): ID numbers keep the first 2 and last 1 characters, phones
the first 3 and last 2. The new mask is cut from the old one, so nothing is decrypted."""

from django.db import migrations


def _remask(value: str, head: int, tail: int) -> str:
    if not value:
        return ""
    if len(value) <= head + tail:
        return "*" * len(value)
    return value[:head] + "*" * (len(value) - head - tail) + value[-tail:]


def narrow(apps, schema_editor):
    for label, fields in (("Resident", {"id_number_masked": (2, 1), "phone_masked": (3, 2)}),
                          ("Business", {"phone_masked": (3, 2)})):
        model = apps.get_model("people", label)
        for name, (head, tail) in fields.items():
            rows = model.objects.exclude(**{name: ""}).values_list("pk", name).iterator(chunk_size=2000)
            changed = [model(pk=pk, **{name: _remask(v, head, tail)}) for pk, v in rows if v != _remask(v, head, tail)]
            model.objects.bulk_update(changed, [name], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [("people", "0002_default_special_groups")]
    operations = [migrations.RunPython(narrow, migrations.RunPython.noop)]
