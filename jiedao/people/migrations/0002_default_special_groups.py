"""Seed the special-group catalogue with the groups the seed reports name (editable later)."""

from django.db import migrations

DEFAULT_GROUPS = [
    ("dibao", "低保", 30, [{"name": "card_no", "label": "低保证号", "type": "text"},
                           {"name": "amount", "label": "月保障金额（元）", "type": "number"}]),
    ("low_income", "低收入农户", 30, [{"name": "plan", "label": "帮扶措施", "type": "text"}]),
    ("tekun", "特困", 30, [{"name": "support", "label": "供养方式", "type": "choice", "choices": ["集中供养", "分散供养"]}]),
    ("alone_elderly", "独居老人", 7, []),
    ("disabled", "残疾人", 90, [{"name": "level", "label": "残疾等级", "type": "choice",
                                "choices": ["一级", "二级", "三级", "四级"]}]),
    ("veteran", "退役军人", 180, [{"name": "service", "label": "服役部队", "type": "text"}]),
    ("key_person", "重点人员", 30, [{"name": "kind", "label": "类别", "type": "text"}]),
    ("return_poverty", "防返贫监测户", 30, [{"name": "cadre", "label": "结对干部", "type": "text"}]),
]


def create_groups(apps, schema_editor):
    SpecialGroup = apps.get_model("people", "SpecialGroup")
    for order, (code, name, interval, fields) in enumerate(DEFAULT_GROUPS, start=1):
        SpecialGroup.objects.get_or_create(
            code=code, defaults={"name": name, "visit_interval_days": interval, "fields": fields, "sort_order": order}
        )


class Migration(migrations.Migration):
    dependencies = [("people", "0001_initial")]
    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
