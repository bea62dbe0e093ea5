from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SafetyConfig(AppConfig):
    name = "jiedao.safety"
    label = "safety"
    verbose_name = _("安全生产")

    def ready(self) -> None:
        from jiedao.core import seeding

        seeding.register(self.name, demo="jiedao.safety.demo.demo_step")

        # The case page links back to the hazard a case was escalated from (jiedao.cases.related).
        from jiedao.cases import related
        from jiedao.safety.case_links import hazard_links

        related.register("safety.hazard", hazard_links)
        from jiedao.cases.statistics import panels
        from jiedao.safety.panel import PANEL

        panels.register(PANEL)  # the 驾驶舱's safety figures (jiedao.safety.panel)
