from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SafetyConfig(AppConfig):
    name = "jiedao.safety"
    label = "safety"
    verbose_name = _("安全生产")

    def ready(self) -> None:
        from jiedao.core import seeding

        seeding.register(self.name, demo="jiedao.safety.demo.demo_step")
