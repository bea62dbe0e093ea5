from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WelfareConfig(AppConfig):
    name = "jiedao.welfare"
    label = "welfare"
    verbose_name = _("民政帮扶")

    def ready(self) -> None:
        # Each part registers its demo step, panels and jobs here.
        from jiedao.welfare.benefits import demo as benefits_demo  # the demo step and the payment import register

        benefits_demo.register()
