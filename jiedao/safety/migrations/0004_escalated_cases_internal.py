from django.db import migrations


def escalated_cases_internal(apps, schema_editor):
    """Cases escalated from a hazard before `Case.internal` existed are internal too: their titles
    name the business, and they were never meant for the public Open311 feed."""
    Hazard = apps.get_model("safety", "Hazard")
    Case = apps.get_model("cases", "Case")
    ids = Hazard.objects.exclude(case=None).values_list("case_id", flat=True)
    Case.objects.filter(pk__in=list(ids), internal=False).update(internal=True)


class Migration(migrations.Migration):
    dependencies = [
        ("safety", "0003_item_retire_rule_recompute"),
        ("cases", "0015_case_internal"),
    ]

    operations = [migrations.RunPython(escalated_cases_internal, migrations.RunPython.noop)]
