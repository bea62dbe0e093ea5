from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WelfareConfig(AppConfig):
    name = "jiedao.welfare"
    label = "welfare"
    verbose_name = _("民政帮扶")

    def ready(self) -> None:
        from jiedao.cases.statistics import panels
        from jiedao.core import seeding
        from jiedao.welfare.benefits import importer  # noqa: F401  (registers the civil-affairs payment import)
        from jiedao.welfare.monitoring.exporting import register_exports as register_monitoring_exports
        from jiedao.welfare.panel import PANEL

        # one registration per part (seeding keys its steps by the name given)
        seeding.register("jiedao.welfare.monitoring", demo="jiedao.welfare.monitoring.demo.demo_step")
        seeding.register("jiedao.welfare.benefits", demo="jiedao.welfare.benefits.demo.demo_step")
        seeding.register("jiedao.welfare.visits", demo="jiedao.welfare.visits.demo.demo_step")  # visits, veterans
        panels.register(PANEL)  # the 驾驶舱's welfare figures (jiedao.welfare.panel)
        register_monitoring_exports()  # the monitored-household list as an xlsx export (core.exports)
