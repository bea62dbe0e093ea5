"""Fast bulk inserts for imports: reserve primary keys, then one executemany per batch.

Django's bulk_create prepares every value through each field and compiles SQL per batch, which
dominates an import of 100,000 rows. Here values are adapted once per column kind and rows go
to the driver as plain tuples. Only for trusted, already-validated rows inside a transaction.
(Single rows on the hottest paths go in through jiedao.core.fastpath.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """`count` fresh primary keys for `model`, safe inside the current transaction."""
    if count <= 0:
        return []
    table = model._meta.db_table
    pk_column = model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [connection.ops.quote_name(table), pk_column, count],
            )
            return [row[0] for row in cursor.fetchall()]
        if not connection.in_atomic_block:
            raise RuntimeError("reserve_ids needs a transaction (it relies on SQLite's write lock)")
        # SQLite: the IMMEDIATE transaction holds the write lock, so nobody else can take these.
        # AUTOINCREMENT never reuses ids, so start above both the table's maximum and the sequence.
        cursor.execute(f"SELECT COALESCE(MAX({connection.ops.quote_name(pk_column)}), 0) FROM {connection.ops.quote_name(table)}")
        highest = cursor.fetchone()[0]
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        start = max(highest, row[0] if row else 0) + 1
        return list(range(start, start + count))


class JsonText(str):
    """A JSON column's value already serialised (e.g. the canonical JSON an audit event hashes):
    written as it is, not encoded a second time."""


def _same(value: Any) -> Any:
    return value


def _json_text(text: JsonText) -> Any:
    if connection.vendor == "postgresql":
        from psycopg.types.json import Jsonb

        return Jsonb(text, dumps=_same)  # the text goes to the server as is, typed jsonb
    return str(text)


def column_adapters(model: type[models.Model], field_names: Sequence[str]) -> list[Callable[[Any], Any] | None]:
    """Per column, the conversion to a database value (None = pass the Python value as is)."""
    adapters: list[Callable[[Any], Any] | None] = []
    for name in field_names:
        field = model._meta.get_field(name)
        if isinstance(field, models.JSONField):
            adapters.append(lambda value, f=field: _json_text(value) if type(value) is JsonText
                            else f.get_db_prep_save(value, connection))
        elif isinstance(field, models.DateTimeField | models.DateField | models.DecimalField):
            adapters.append(lambda value, f=field: f.get_db_prep_save(value, connection))
        else:
            adapters.append(None)
    return adapters


def _adapted(model: type[models.Model], field_names: Sequence[str], rows: list[Sequence[Any]]) -> list[Sequence[Any]]:
    """The rows with their date, time, JSON and decimal values converted for the driver. Dates
    and timestamps repeat (a batch shares one `now`, birth dates recur), so each distinct value is
    converted once per call."""
    adapters = column_adapters(model, field_names)
    if not any(adapters):
        return rows
    memo: list[dict | None] = [
        None if adapt is None or isinstance(model._meta.get_field(name), models.JSONField | models.DecimalField) else {}
        for name, adapt in zip(field_names, adapters, strict=True)
    ]
    adapted_columns = [i for i, adapt in enumerate(adapters) if adapt is not None]
    passthrough = connection.vendor != "postgresql"  # SQLite stores JSON as text: a JsonText as it is
    out = []
    for row in rows:
        row = list(row)
        for i in adapted_columns:
            value = row[i]
            if value is None:
                continue
            cache = memo[i]
            if cache is None:
                if type(value) is JsonText and passthrough:
                    continue
                row[i] = adapters[i](value)
            else:
                done = cache.get(value)
                if done is None:
                    done = cache[value] = adapters[i](value)
                row[i] = done
        out.append(row)
    return out


def db_value(model: type[models.Model], field_name: str, value: Any) -> Any:
    """One value as insert_rows would send it for that column: for a caller that converts a value
    shared by a whole batch (its `now`) once and passes the rows `prepared`."""
    field = model._meta.get_field(field_name)
    if type(value) is JsonText:
        return _json_text(value)
    return field.get_db_prep_save(value, connection)


def insert_rows(
    model: type[models.Model], field_names: Sequence[str], rows: list[Sequence[Any]], *, prepared: bool = False
) -> None:
    """INSERT the rows (tuples ordered like `field_names`) with one executemany. `prepared`: the
    caller already converted every date, time, JSON and decimal value (`db_value`)."""
    if not rows:
        return
    meta = model._meta
    columns = [meta.get_field(name).column for name in field_names]
    if not prepared:
        rows = _adapted(model, field_names, rows)
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def update_rows(model: type[models.Model], field_names: Sequence[str], rows: list[Sequence[Any]]) -> None:
    """UPDATE rows by primary key with one executemany: each row is (pk, *values ordered like
    `field_names`). Django's bulk_update builds a CASE per field and row, which costs far more
    than the write itself for a re-import of thousands of rows."""
    if not rows:
        return
    meta = model._meta
    quote = connection.ops.quote_name
    columns = [meta.get_field(name).column for name in field_names]
    rows = _adapted(model, [meta.pk.name, *field_names], rows)
    # The pk goes last in the statement: move it from the front of each row.
    params = [(*row[1:], row[0]) for row in rows]
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {', '.join(f'{quote(c)} = %s' for c in columns)} "
        f"WHERE {quote(meta.pk.column)} = %s"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
