from django.db import migrations, models


def create_row(apps, schema_editor):
    apps.get_model("core", "CacheGeneration").objects.get_or_create(name="config")


class Migration(migrations.Migration):
    dependencies = [("core", "0007_jobrun_queued_at")]

    operations = [
        migrations.CreateModel(
            name="CacheGeneration",
            fields=[
                ("name", models.CharField(max_length=32, primary_key=True, serialize=False, verbose_name="名称")),
                ("value", models.BigIntegerField(default=0, verbose_name="代数")),
            ],
            options={"verbose_name": "缓存代数", "verbose_name_plural": "缓存代数"},
        ),
        migrations.RunPython(create_row, migrations.RunPython.noop),
    ]
