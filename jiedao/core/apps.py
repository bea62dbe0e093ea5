from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "jiedao.core"
    label = "core"
    verbose_name = _("平台基础")

    def ready(self) -> None:
        from jiedao.core import caching, scheduler

        caching.connect_signals()
        # signed checkpoints of every audit chain head, outside the database (core.audit_checkpoints)
        scheduler.register("audit_checkpoint", "jiedao.core.audit_checkpoints.checkpoint_job", scheduler.every(10))
        # Import files past their retention, and files no import job owns, are deleted.
        scheduler.register("import_retention", "jiedao.core.imports.import_retention", scheduler.every(60))
        # Export files past their retention (and files no export job owns) are deleted; stalled jobs failed.
        scheduler.register("export_retention", "jiedao.core.exports.export_retention", scheduler.every(15))
        # Rate counters whose window has ended, and expired sessions, are deleted.
        scheduler.register("expired_sweep", "jiedao.core.limits.expired_sweep", scheduler.every(60))
        from django.core import checks

        checks.register(keyring_check, checks.Tags.database)


def keyring_check(app_configs=None, databases=None, **kwargs):
    """`manage.py check --database default` (and `migrate`, which runs the database checks)
    report encrypted rows the present keyring cannot open; `jiedao serve`/`demo` refuse to start."""
    from django.core import checks
    from django.db import DatabaseError

    from jiedao.core import keys

    if not databases or "default" not in databases:
        return []
    try:
        problem = keys.startup_problems()
    except DatabaseError:
        return []
    return [checks.Error(problem, id="jiedao.E001")] if problem else []
