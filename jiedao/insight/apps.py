from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightConfig(AppConfig):
    """Reading residents' words: category suggestion, similar cases and hotspots."""

    name = "jiedao.insight"
    label = "insight"
    verbose_name = _("文本研判")

    def ready(self) -> None:
        from jiedao.cases import reading
        from jiedao.core import scheduler
        from jiedao.insight.reading import InsightReader

        reading.install(InsightReader())
        scheduler.register("suggestion_backfill", "jiedao.insight.services.suggestion_backfill", scheduler.every(1))
        scheduler.register("repeat_scan", "jiedao.insight.services.repeat_scan_all", scheduler.every(1))
        scheduler.register("duplicate_groups", "jiedao.insight.services.duplicate_groups_build_all",
                           scheduler.next_day_at(2))
        scheduler.register("classifier_retrain", "jiedao.insight.services.classifier_retrain_scheduled",
                           scheduler.next_monday_at(3))
