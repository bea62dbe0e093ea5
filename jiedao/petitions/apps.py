from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PetitionsConfig(AppConfig):
    name = "jiedao.petitions"
    label = "petitions"
    verbose_name = _("信访")

    def ready(self) -> None:
        from jiedao.cases import related
        from jiedao.cases.statistics import panels
        from jiedao.core import sealed, seeding
        from jiedao.petitions.case_links import petition_links
        from jiedao.petitions.exporting import register_exports
        from jiedao.petitions.models import Petitioner
        from jiedao.petitions.panel import PANEL

        # A petitioner outside the residents register: ID number and phone sealed like people's.
        sealed.register(Petitioner, "id_number", kind="id_number")
        sealed.register(Petitioner, "phone", kind="phone")
        seeding.register(self.name, demo="jiedao.petitions.demo.demo_step")
        related.register("petitions.petition", petition_links)  # the case page links back to its petition
        panels.register(PANEL)  # the 驾驶舱's 信访 figures (jiedao.petitions.panel)
        register_exports()  # the petition list as an xlsx export (core.exports), petitioners masked
