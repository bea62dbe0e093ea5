from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SafetyConfig(AppConfig):
    name = "jiedao.safety"
    label = "safety"
    verbose_name = _("安全生产")

    def ready(self) -> None:
        from jiedao.cases import related
        from jiedao.cases.statistics import panels
        from jiedao.core import scheduler, seeding
        from jiedao.people import services as people_services
        from jiedao.safety import services
        from jiedao.safety.case_links import hazard_links
        from jiedao.safety.panel import PANEL

        seeding.register(self.name, demo="jiedao.safety.demo.demo_step")
        related.register("safety.hazard", hazard_links)  # the case page links back to its hazard
        panels.register(PANEL)  # the 驾驶舱's safety figures (jiedao.safety.panel)
        # the 三色 colour follows the rule's time-based terms (a hazard passing its deadline) nightly
        scheduler.register("safety_risk_recompute", "jiedao.safety.services.risk_recompute_all",
                           scheduler.next_day_at(1))
        people_services.on_business_changed(services.business_register_changed)
