from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightConfig(AppConfig):
    """Reading residents' words: category suggestion, similar cases and hotspots."""

    name = "jiedao.insight"
    label = "insight"
    verbose_name = _("文本研判")

    def ready(self) -> None:
        from jiedao.cases import reading
        from jiedao.insight.reading import InsightReader

        reading.install(InsightReader())
