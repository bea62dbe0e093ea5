from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "jiedao.cases"
    label = "cases"
    verbose_name = _("诉求与事件")

    def ready(self) -> None:
        from jiedao.cases.models import Case, Open311Extra
        from jiedao.cases.open311.views import render_error
        from jiedao.core import scheduler, sealed, seeding, text

        # Refused characters under /open311/ (jiedao.core.middleware.TextBoundaryMiddleware)
        # answer in Open311's error format, in the format the path asks for.
        text.register_responder(
            "/open311/",
            lambda request, error: render_error("xml" if request.path.endswith(".xml") else "json", 400, error.message),
        )

        # The reporter's phone is looked up by its blind index (a repeat caller's earlier cases at
        # intake, jiedao.cases.selectors.reporter_cases); its index column is not named `<stem>_bidx`.
        # Bound to the ticket: the intake fast path seals before the INSERT assigns the pk.
        sealed.register(Case, "reporter_phone", kind="phone", index_field="reporter_phone_index", row_field="ticket")
        # What an Open311 client sends about its user: never looked up, so no blind index.
        for stem, kind in (("email", "email"), ("device_id", "identifier"), ("account_id", "identifier")):
            sealed.register(Open311Extra, stem, kind=kind, indexed=False)
        seeding.register(self.name, demo="jiedao.cases.demo.demo_step", scale="jiedao.cases.bulk.scale_step")
        # The case list as a background export job (core.exports).
        from jiedao.cases import exporting

        exporting.register_exports()
        # Pending rollup deltas into the statistics tables; readers are exact either way, folding
        # keeps the delta table small so reads stay fast.
        scheduler.register("rollup_fold", "jiedao.cases.statistics.rollups.fold_job", scheduler.every_seconds(5))
        scheduler.register("sla_scan", "jiedao.cases.catalogue.sla.sla_scan", scheduler.every(5))
        # No case without a next step: unfinished cases nobody could move, to the sub-district's leaders.
        scheduler.register("stuck_check", "jiedao.cases.stuck.stuck_check", scheduler.every(60))
        scheduler.register("weekly_digests", "jiedao.cases.cycles.services.weekly_digests_generate_all",
                           scheduler.next_monday_at(1))
