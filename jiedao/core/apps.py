from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "jiedao.core"
    label = "core"
    verbose_name = _("平台基础")

    def ready(self) -> None:
        from jiedao.core import caching, scheduler

        caching.connect_signals()
        scheduler.register("expired_sweep", "jiedao.core.limits.expired_sweep", scheduler.every(60))
