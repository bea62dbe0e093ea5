from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SafetyConfig(AppConfig):
    name = "jiedao.safety"
    label = "safety"
    verbose_name = _("安全生产")

    def ready(self) -> None:
        from jiedao.core import scheduler, seeding
        from jiedao.people import services as people_services
        from jiedao.safety import services

        seeding.register(self.name, demo="jiedao.safety.demo.demo_step")
        # the 三色 colour follows the rule's time-based terms (a hazard passing its deadline) nightly
        scheduler.register("safety_risk_recompute", "jiedao.safety.services.risk_recompute_all",
                           scheduler.next_day_at(1))
        people_services.on_business_changed(services.business_register_changed)
