from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PeopleConfig(AppConfig):
    name = "jiedao.people"
    label = "people"
    verbose_name = _("人口与主体")

    def ready(self) -> None:
        from jiedao.core import seeding

        seeding.register(self.name, demo="jiedao.people.demo.demo_step")
