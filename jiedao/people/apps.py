from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PeopleConfig(AppConfig):
    name = "jiedao.people"
    label = "people"
    verbose_name = _("人口与主体")

    def ready(self) -> None:
        from jiedao.core import sealed, seeding
        from jiedao.people.models import Business, Resident

        # The sealed identifiers of the registers: key rotation and the registry test read these.
        sealed.register(Resident, "id_number", kind="id_number")
        sealed.register(Resident, "phone", kind="phone")
        sealed.register(Business, "phone", kind="phone")
        seeding.register(self.name, demo="jiedao.people.demo.demo_step")
        # The residents, businesses and households lists as background export jobs (core.exports).
        from jiedao.people import exporting

        exporting.register_exports()
        # The import specs (residents, businesses) register with core.imports on import: every process
        # that may validate or commit an import (a queue worker, the validation's child process) needs them.
        from jiedao.people import importers  # noqa: F401
