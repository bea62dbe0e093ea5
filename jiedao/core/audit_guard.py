"""Database-level append-only protection of the audit trail.

Triggers refuse every UPDATE and DELETE (and, on PostgreSQL, TRUNCATE) of `core_auditevent`,
and every change of `core_auditchainhead` except the one the platform makes: moving a chain's
head forward (a higher `last_seq`, same chain). They are created by a migration; `audit verify`
reports them missing. Someone with DDL rights can still drop them: the keyed chain and the
signed checkpoints outside the database (jiedao.core.audit_checkpoints) catch what they do then.

On SQLite a later migration that rebuilds either table (most AlterField/AddField operations on
it) drops its triggers with the old table: such a migration must end with
`RunPython(lambda apps, editor: audit_guard.install(editor.connection))`; the tests that
assert the refusal fail otherwise.
"""

from __future__ import annotations

from django.db import connection as default_connection

EVENTS = "core_auditevent"
HEADS = "core_auditchainhead"
MESSAGE = "jiedao: the audit trail is append-only"

_SQLITE = {
    "jiedao_audit_event_no_update": f"CREATE TRIGGER jiedao_audit_event_no_update BEFORE UPDATE ON {EVENTS} "
                                    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    "jiedao_audit_event_no_delete": f"CREATE TRIGGER jiedao_audit_event_no_delete BEFORE DELETE ON {EVENTS} "
                                    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    "jiedao_audit_head_advance_only": f"CREATE TRIGGER jiedao_audit_head_advance_only BEFORE UPDATE ON {HEADS} "
                                      "WHEN NEW.chain <> OLD.chain OR NEW.last_seq <= OLD.last_seq "
                                      f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    "jiedao_audit_head_no_delete": f"CREATE TRIGGER jiedao_audit_head_no_delete BEFORE DELETE ON {HEADS} "
                                   f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
}

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION jiedao_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = '{HEADS}' THEN
        IF NEW.chain = OLD.chain AND NEW.last_seq > OLD.last_seq THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION '{MESSAGE}: % on % refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END
$$"""

_PG = {
    "jiedao_audit_event_append_only": f"CREATE TRIGGER jiedao_audit_event_append_only BEFORE UPDATE OR DELETE ON {EVENTS} "
                                      "FOR EACH ROW EXECUTE PROCEDURE jiedao_audit_append_only()",
    "jiedao_audit_event_no_truncate": f"CREATE TRIGGER jiedao_audit_event_no_truncate BEFORE TRUNCATE ON {EVENTS} "
                                      "FOR EACH STATEMENT EXECUTE PROCEDURE jiedao_audit_append_only()",
    "jiedao_audit_head_advance_only": f"CREATE TRIGGER jiedao_audit_head_advance_only BEFORE UPDATE OR DELETE ON {HEADS} "
                                      "FOR EACH ROW EXECUTE PROCEDURE jiedao_audit_append_only()",
    "jiedao_audit_head_no_truncate": f"CREATE TRIGGER jiedao_audit_head_no_truncate BEFORE TRUNCATE ON {HEADS} "
                                     "FOR EACH STATEMENT EXECUTE PROCEDURE jiedao_audit_append_only()",
}


def _table_of(name: str) -> str:
    return EVENTS if "_event_" in name else HEADS


def triggers(vendor: str) -> dict[str, str]:
    return _PG if vendor == "postgresql" else _SQLITE if vendor == "sqlite" else {}


def create_sql(vendor: str) -> list[str]:
    statements = [_PG_FUNCTION] if vendor == "postgresql" else []
    return statements + list(triggers(vendor).values())


def drop_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {name} ON {_table_of(name)}" for name in _PG]
    return [f"DROP TRIGGER IF EXISTS {name}" for name in triggers(vendor)]


def install(connection=None) -> None:
    """(Re)create the triggers: idempotent."""
    connection = connection or default_connection
    with connection.cursor() as cursor:
        for statement in drop_sql(connection.vendor) + create_sql(connection.vendor):
            cursor.execute(statement)


def remove(connection=None) -> None:
    """Drop the triggers (what an insider with DDL rights can do; tests that tamper use it)."""
    connection = connection or default_connection
    with connection.cursor() as cursor:
        for statement in drop_sql(connection.vendor):
            cursor.execute(statement)


def missing_triggers(connection=None) -> list[str]:
    connection = connection or default_connection
    wanted = triggers(connection.vendor)
    if not wanted:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D' "
                           "AND tgname LIKE 'jiedao_audit_%%'")
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'jiedao_audit_%'")
        present = {row[0] for row in cursor.fetchall()}
    return [name for name in wanted if name not in present]
