from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "jiedao.cases"
    label = "cases"
    verbose_name = _("诉求与事件")

    def ready(self) -> None:
        from jiedao.core import seeding

        seeding.register(self.name, demo="jiedao.cases.demo.demo_step", scale="jiedao.cases.bulk.scale_step")
