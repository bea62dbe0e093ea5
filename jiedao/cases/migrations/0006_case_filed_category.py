import datetime

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import F
from django.utils import timezone


def fill_filed_category(apps, schema_editor):
    """A case that has not moved since intake still has its filed category. For the recent cases
    that have moved (the only ones the suggestion backfill still looks at), it is read once from
    their creation audit event; older moved cases get their current category."""
    Case = apps.get_model("cases", "Case")
    AuditEvent = apps.get_model("core", "AuditEvent")
    Case.objects.update(filed_category_id=F("category_id"))
    since = timezone.now() - datetime.timedelta(days=8)
    moved = list(Case.objects.filter(created_at__gte=since, version__gt=0).values_list("id", flat=True))
    for start in range(0, len(moved), 500):
        ids = [str(pk) for pk in moved[start:start + 500]]
        events = AuditEvent.objects.filter(object_type="cases.case", object_id__in=ids, action="cases.case.create")
        for object_id, after in events.values_list("object_id", "after"):
            Case.objects.filter(pk=int(object_id)).update(filed_category_id=(after or {}).get("category_id"))


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0005_rollup_read_paths'),
        ('core', '0008_cache_generation'),
    ]

    operations = [
        migrations.AddField(
            model_name='case',
            name='filed_category',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='cases.category', verbose_name='登记时类别'),
        ),
        migrations.RunPython(fill_filed_category, migrations.RunPython.noop),
    ]
