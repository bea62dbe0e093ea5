from django.db import migrations


def install(apps, schema_editor):
    from jiedao.cases.catalogue.defaults import install_default_catalogue

    install_default_catalogue(apps.get_model("cases", "Category"))


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
