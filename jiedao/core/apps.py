from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "jiedao.core"
    label = "core"
    verbose_name = _("平台基础")

    def ready(self) -> None:
        from jiedao.core import caching, scheduler

        caching.connect_signals()
        # signed checkpoints of every audit chain head, outside the database (core.audit_checkpoints)
        scheduler.register("audit_checkpoint", "jiedao.core.audit_checkpoints.checkpoint_job", scheduler.every(10))
