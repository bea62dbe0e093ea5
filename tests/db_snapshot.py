"""Build test data once, replay its rows in every test.

`RowSnapshot.capture(build)` runs `build` inside a transaction, notes every row it inserted or
changed (in every table, whatever services, signals or audit writes did it), and rolls back.
`restore()` writes exactly those rows again: the same primary keys, timestamps and audit hashes,
as raw inserts (no save(), no auto_now), plus the same updates of pre-existing rows (the audit
chain heads, the cache generation). A test's database then looks as if `build` had just run in
it, for a few inserts instead of dozens of audited service calls.

Restoring inside pytest-django's per-test transaction means the rows vanish with the rollback;
in a transactional test they are committed and the flush after the test removes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import connection, transaction
from django.db.models import sql


def _tables() -> list[type]:
    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    ]


def _rows(model) -> dict[Any, tuple]:
    attnames = [field.attname for field in model._meta.concrete_fields]
    at = attnames.index(model._meta.pk.attname)
    return {row[at]: row for row in model._base_manager.values_list(*attnames)}


@dataclass
class _Changes:
    model: type
    inserted: list[tuple]  # whole rows, in primary-key order
    updated: list[tuple[Any, dict, dict]]  # (pk, the changed columns before, after)


class RowSnapshot:
    """The rows one build wrote; see the module docstring."""

    def __init__(self, changes: list[_Changes]) -> None:
        self.changes = changes
        self._statements: list[tuple[str, tuple, bool, str]] | None = None

    @classmethod
    def capture(cls, build: Callable[[], Any]) -> tuple[RowSnapshot, Any]:
        """Run `build` in a transaction that is rolled back; return the snapshot and its result."""
        tables = _tables()
        with transaction.atomic():
            before = {model: _rows(model) for model in tables}
            result = build()
            changes = []
            for model in tables:
                after = _rows(model)
                old = before[model]
                if old.keys() - after.keys():
                    raise AssertionError(f"{model.__name__}: a replayable build may not delete rows")
                attnames = [field.attname for field in model._meta.concrete_fields]
                inserted = [after[pk] for pk in sorted(after.keys() - old.keys())]
                updated = []
                for pk in sorted(after.keys() & old.keys()):
                    if after[pk] != old[pk]:
                        diff = [(name, a, b) for name, a, b in zip(attnames, old[pk], after[pk], strict=True) if a != b]
                        updated.append((pk, {n: a for n, a, _ in diff}, {n: b for n, _, b in diff}))
                if inserted or updated:
                    changes.append(_Changes(model, inserted, updated))
            transaction.set_rollback(True)
        return cls(changes), result

    def _compile(self) -> list[tuple[str, tuple, bool, str]]:
        """The SQL of the restore, compiled once: (sql, params, must change one row, what)."""
        statements = []
        for change in self.changes:
            model = change.model
            fields = list(model._meta.concrete_fields)
            if change.inserted:
                objs = [model(**dict(zip((f.attname for f in fields), row, strict=True))) for row in change.inserted]
                size = max(connection.ops.bulk_batch_size(fields, objs), 1)
                for start in range(0, len(objs), size):
                    # raw: the stored values as they are (auto_now_add would stamp a new time, and the
                    # audit hashes cover created_at)
                    query = sql.InsertQuery(model)
                    query.insert_values(fields, objs[start:start + size], raw=True)
                    for text, params in query.get_compiler(connection=connection).as_sql():
                        statements.append((text, tuple(params), False, model.__name__))
            for pk, was, now in change.updated:
                # only a row still in the state the build found it may be moved on
                query = model._base_manager.filter(pk=pk, **was).query.chain(sql.UpdateQuery)
                query.add_update_values(now)
                text, params = query.get_compiler(connection=connection).as_sql()
                statements.append((text, tuple(params), True, f"{model.__name__} {pk} {was}"))
        return statements

    def restore(self) -> None:
        """Write the captured rows again (the database must be in the state `build` started from)."""
        if self._statements is None:
            self._statements = self._compile()
        with transaction.atomic(), connection.cursor() as cursor:
            for text, params, one_row, what in self._statements:
                cursor.execute(text, params)
                if one_row and cursor.rowcount != 1:
                    raise AssertionError(f"not in the state the snapshot was taken from: {what}")
