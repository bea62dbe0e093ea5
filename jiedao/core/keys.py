"""Key rotation for every sealed personal-data column (`jiedao keys rotate`).

A new data key is added to the keyring and made active, so new writes use it at once; then
every ciphertext made under an older key is re-encrypted in small batches. Each row is
rewritten with compare-and-set on its old ciphertext, so a concurrent edit is never overwritten,
and old keys stay in the keyring, so every value stays readable throughout: no downtime, no loss.
With `rotate_index=True` the blind-index key is rotated the same way (lookups try every index
key until the rotation is complete). The columns are those of the registry in
jiedao.core.sealed, which each app fills, so core needs to know none of them. Every value is
rewritten bound to its table, column and row (format 2 of jiedao.core.crypto), older unbound
ones included, so after a rotation no ciphertext can be moved to another row or column.

The module also answers which keys the stored data needs (`key_usage`, a skip scan: one short
query per key id and column): `jiedao serve`/`demo` refuse to start when a present key cannot
open them (`startup_problems`), and every backup records them (`manifest`) so that a restore is
refused without the keyring that encrypted it (jiedao.core.backup).

A blind index can be missing on rows written before their column was indexed (a column
registered with indexed=False that later gains an index, as the case reporter's phone did).
No migration can compute it (the keys live outside the database), so every rotation fills the
missing ones as it passes, and `fill_missing_indexes` (`jiedao keys reindex`) does only that,
without a new key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction

from jiedao.core import audit, crypto, sealed


@dataclass
class RotationReport:
    key_id: str
    index_key_id: str
    reencrypted: int = 0
    skipped_concurrent: int = 0
    indexed: int = 0  # blind indexes filled where they were missing


def rotate_keys(*, batch_size: int = 500, rotate_index: bool = False) -> RotationReport:
    ring = crypto.reload_keyring()
    new_key = ring.add_key()
    if rotate_index:
        ring.add_index_key()
    ring.save()
    crypto.reload_keyring()
    report = RotationReport(key_id=new_key, index_key_id=ring.index)
    for column in sealed.columns():
        # The base manager: a custom default manager that hides rows must not hide them from rotation.
        rows_of, enc_field, bidx_field, kind = column.model._base_manager, column.enc, column.bidx, column.kind
        # A column without a blind index needs no new index: rows already under the new key stay.
        reindex = rotate_index and bool(bidx_field)
        last_pk = 0
        while True:
            # Walk by primary key: rows re-encrypted in a batch are not visited again.
            rows = list(
                rows_of.filter(pk__gt=last_pk)
                .exclude(**{enc_field: ""})
                .order_by("pk")
                .values_list("pk", column.row_field, *filter(None, (enc_field, bidx_field)))[:batch_size]
            )
            if not rows:
                break
            last_pk = rows[-1][0]
            with transaction.atomic():
                for pk, row, token, *index in rows:
                    missing = bool(bidx_field) and not index[0]
                    bound = crypto.is_bound(token)
                    if crypto.key_id_of(token) == new_key and bound and not (reindex or missing):
                        continue
                    # Every value is rewritten bound to its table, column and row (format 2).
                    aad = column.context(row)
                    plain = crypto.decrypt(token, ring, aad=aad)
                    changes = {enc_field: crypto.encrypt(plain, ring, aad=aad)}
                    if reindex or missing:
                        changes[bidx_field] = crypto.blind_index(plain, kind=kind, keyring=ring)
                    updated = rows_of.filter(pk=pk, **{enc_field: token}).update(**changes)
                    report.reencrypted += updated
                    report.indexed += updated if missing else 0
                    report.skipped_concurrent += 1 - updated
    with transaction.atomic():
        audit.record(
            actor=None, action="core.keys.rotate", object_type="keyring", object_id=new_key,
            after={"key_id": new_key, "index_key_id": ring.index, "reencrypted": report.reencrypted,
                   "indexed": report.indexed},
        )
    return report


@dataclass
class IndexReport:
    indexed: int = 0
    skipped_concurrent: int = 0
    columns: dict[str, int] | None = None


def fill_missing_indexes(*, batch_size: int = 500) -> IndexReport:
    """Compute the blind index, under the active index key, of every sealed value that has none
    (`jiedao keys reindex`). Keys are not changed; rows are written compare-and-set on their
    ciphertext and empty index, so a concurrent edit (which indexes the row itself) wins."""
    ring = crypto.reload_keyring()
    report = IndexReport(columns={})
    for column in sealed.columns():
        if not column.bidx:
            continue
        rows_of, enc_field, bidx_field, kind = column.model._base_manager, column.enc, column.bidx, column.kind
        filled = 0
        last_pk = 0
        while True:
            rows = list(
                rows_of.filter(pk__gt=last_pk, **{bidx_field: ""})
                .exclude(**{enc_field: ""})
                .order_by("pk")
                .values_list("pk", column.row_field, enc_field)[:batch_size]
            )
            if not rows:
                break
            last_pk = rows[-1][0]
            with transaction.atomic():
                for pk, row, token in rows:
                    plain = crypto.decrypt(token, ring, aad=column.context(row))
                    index = crypto.blind_index(plain, kind=kind, keyring=ring)
                    updated = rows_of.filter(pk=pk, **{enc_field: token, bidx_field: ""}).update(**{bidx_field: index})
                    filled += updated
                    report.skipped_concurrent += 1 - updated
        report.indexed += filled
        report.columns[str(column)] = filled
    if report.indexed:
        with transaction.atomic():
            audit.record(
                actor=None, action="core.keys.reindex", object_type="keyring", object_id=ring.index,
                after={"index_key_id": ring.index, "indexed": report.indexed, "columns": report.columns},
            )
    return report


# --- which keys the stored data needs -------------------------------------------------------

# Runs one query and returns its rows: `(sql, params)` with `%s` placeholders.
Query = Callable[[str, Sequence[object]], list[tuple]]


def key_usage(query: Query, *, collate_c: bool = False) -> dict[str, list[tuple[str, object, str]]]:
    """The data key ids the sealed columns' ciphertexts name, each with one sample
    `(column label, pk, token)` per column. A skip scan: one `ORDER BY … LIMIT 1` query per
    distinct key id and column (a handful), never a pass over every row in Python. Tables that
    do not exist (yet) are skipped."""
    usage: dict[str, list[tuple[str, object, str]]] = {}
    collate = ' COLLATE "C"' if collate_c else ""
    for column in sealed.columns():
        table, col = column.table, column.enc_column
        row_col = column.row_column
        bound = ""
        while True:
            try:
                rows = query(
                    f'SELECT "{row_col}", "{col}" FROM "{table}" WHERE "{col}"{collate} > %s'
                    f' ORDER BY "{col}"{collate} LIMIT 1', [bound])
            except Exception as exc:  # a table not created yet (before migrate): nothing stored
                if "no such table" in str(exc) or "does not exist" in str(exc):
                    break
                raise
            if not rows:
                break
            row_pk, token = rows[0]
            key_id = crypto.key_id_of(token)
            usage.setdefault(key_id, []).append((str(column), row_pk, token))
            bound = key_id + "%"  # "%" follows "$": the next key id's first ciphertext
    return usage


def _django_query(sql: str, params: Sequence[object]) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@dataclass
class KeyProblem:
    key_id: str
    columns: list[str] = field(default_factory=list)
    reason: str = ""  # "missing" (no such key) or "wrong" (a key of that id that does not open it)


def unreadable(usage: dict[str, list[tuple[str, object, str]]], ring: crypto.Keyring | None) -> list[KeyProblem]:
    """The key ids of `usage` that the keyring lacks, or holds a different key for (one sample
    ciphertext per column is decrypted in its row)."""
    problems = []
    by_label = {str(c): c for c in sealed.columns()}
    for key_id, samples in sorted(usage.items()):
        labels = [label for label, _, _ in samples]
        if ring is None or key_id not in ring.keys:
            problems.append(KeyProblem(key_id, labels, "missing"))
            continue
        for label, pk, token in samples:
            try:
                crypto.decrypt(token, ring, aad=by_label[label].context(pk))
            except crypto.DecryptionError:
                problems.append(KeyProblem(key_id, labels, "wrong"))
                break
    return problems


def describe_problems(problems: list[KeyProblem]) -> str:
    lines = []
    for p in problems:
        what = "密钥环中没有此密钥 / not in the keyring" if p.reason == "missing" else \
            "密钥环中同名密钥解不开 / the keyring's key of that id does not open them"
        lines.append(f"  {p.key_id}: {what} ({', '.join(p.columns)})")
    return "\n".join(lines)


def startup_problems() -> str:
    """"" when every sealed value stored can be opened by the present keyring; otherwise the
    message that stops `jiedao serve` and `jiedao demo`. The keyring is not generated here."""
    usage = key_usage(_django_query, collate_c=connection.vendor == "postgresql")
    if not usage:
        return ""
    ring = crypto.existing_keyring()
    problems = unreadable(usage, ring)
    if not problems:
        return ""
    return (
        f"数据库中有加密的个人信息，但当前密钥环（{crypto.keyring_path()}）打不开它们，已拒绝启动。"
        "请把加密这些数据的密钥环（备份时数据目录的 keys/keyring.json）放回原处后再启动；"
        "不要生成新的密钥环，否则之后写入的数据在放回原密钥环后将无法读取。\n"
        "Encrypted personal data in the database cannot be opened with the present keyring; refusing to"
        " start. Put back the keyring that encrypted it (keys/keyring.json of the data directory at backup"
        " time), then start again.\n" + describe_problems(problems)
    )


def manifest(usage: dict[str, list], ring: crypto.Keyring | None) -> dict:
    """What a backup records of the keys its data (`usage`, from `key_usage`) needs: every data
    key id its sealed columns name and the active blind-index key, each with its check value
    (never the key itself). Ids the keyring already lacked are listed apart."""
    present = ring.keys if ring else {}
    return {
        "format": 1,
        "keys": {k: crypto.key_check(present[k]) for k in sorted(usage) if k in present},
        "unknown_keys": sorted(k for k in usage if k not in present),
        "index_keys": {ring.index: crypto.key_check(ring.index_keys[ring.index])} if ring and usage else {},
    }


def manifest_problems(recorded: dict, ring: crypto.Keyring | None) -> list[str]:
    """The key ids a backup's manifest needs that the present keyring lacks or holds otherwise."""
    wanted = [(k, v, ring.keys if ring else {}) for k, v in recorded.get("keys", {}).items()]
    wanted += [(k, v, ring.index_keys if ring else {}) for k, v in recorded.get("index_keys", {}).items()]
    problems = []
    for key_id, check, present in wanted:
        if key_id not in present:
            problems.append(f"  {key_id}: 密钥环中没有此密钥 / not in the keyring")
        elif crypto.key_check(present[key_id]) != check:
            problems.append(f"  {key_id}: 密钥环中同名密钥不是备份时的密钥 / a different key of the same id")
    return problems
