from django.db import migrations, models


def add_internal(apps, schema_editor):
    """A plain ALTER TABLE ADD COLUMN with a constant default: constant time on both databases.
    Django's own AddField rebuilds the table on SQLite — a copy of every case, which also drops
    the planner's statistics of the table (sqlite_stat1) until the next ANALYZE."""
    kind = "bool" if schema_editor.connection.vendor == "sqlite" else "boolean"
    schema_editor.execute(f'ALTER TABLE "cases_case" ADD COLUMN "internal" {kind} DEFAULT false NOT NULL')


def remove_internal(apps, schema_editor):
    schema_editor.execute('ALTER TABLE "cases_case" DROP COLUMN "internal"')


class Migration(migrations.Migration):
    """Cases that stay inside the staff workflow (never published through Open311)."""

    dependencies = [
        ("cases", "0014_case_place_indexes_cover_path"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="case",
                    name="internal",
                    field=models.BooleanField(db_default=False, default=False, verbose_name="仅内部流转"),
                ),
            ],
            database_operations=[migrations.RunPython(add_internal, remove_internal)],
        ),
    ]
