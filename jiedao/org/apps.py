from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrgConfig(AppConfig):
    name = "jiedao.org"
    label = "org"
    verbose_name = _("组织与人员")

    def ready(self) -> None:
        from jiedao.core import scope, sealed
        from jiedao.org import selectors
        from jiedao.org.models import SecondFactor

        # core.scope applies the role policy to the assignments stored here.
        scope.register_role_source(rows=selectors.role_rows, assignments=selectors.user_assignments)
        sealed.register(SecondFactor, "secret", kind="secret", indexed=False)
