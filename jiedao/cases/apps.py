from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "jiedao.cases"
    label = "cases"
    verbose_name = _("诉求与事件")

    def ready(self) -> None:
        from jiedao.cases.models import Case
        from jiedao.core import sealed

        # The reporter's phone is sealed but never looked up: no blind index.
        sealed.register(Case, "reporter_phone", kind="phone", indexed=False)
