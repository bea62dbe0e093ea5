from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "jiedao.core"
    label = "core"
    verbose_name = _("平台基础")

    def ready(self) -> None:
        from jiedao.core import caching, scheduler

        caching.connect_signals()
        # Import files past their retention, and files no import job owns, are deleted.
        scheduler.register("import_retention", "jiedao.core.imports.import_retention", scheduler.every(60))
