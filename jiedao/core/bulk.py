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


def column_adapters(model: type[models.Model], field_names: Sequence[str]) -> list[Callable[[Any], Any] | None]:
    """Per column, the conversion to a database value (None = pass the Python value as is)."""
    adapters: list[Callable[[Any], Any] | None] = []
    for name in field_names:
        field = model._meta.get_field(name)
        if isinstance(field, models.DateTimeField | models.DateField | models.JSONField | models.DecimalField):
            adapters.append(lambda value, f=field: f.get_db_prep_save(value, connection))
        else:
            adapters.append(None)
    return adapters


def insert_rows(model: type[models.Model], field_names: Sequence[str], rows: list[Sequence[Any]]) -> None:
    """INSERT the rows (tuples ordered like `field_names`) with one executemany."""
    if not rows:
        return
    meta = model._meta
    columns = [meta.get_field(name).column for name in field_names]
    adapters = column_adapters(model, field_names)
    if any(adapters):
        rows = [
            tuple(value if adapt is None or value is None else adapt(value) for value, adapt in zip(row, adapters, strict=True))
            for row in rows
        ]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
