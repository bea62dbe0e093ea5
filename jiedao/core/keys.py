"""Key rotation for every sealed personal-data column (`jiedao keys rotate`).

A new data key is added to the keyring and made active, so new writes use it at once; then
every ciphertext made under an older key is re-encrypted in small batches. Each row is
rewritten with compare-and-set on its old ciphertext, so a concurrent edit is never overwritten,
and old keys stay in the keyring, so every value stays readable throughout: no downtime, no loss.
With `rotate_index=True` the blind-index key is rotated the same way (lookups try every index
key until the rotation is complete). The columns are those of the registry in
jiedao.core.sealed, which each app fills, so core needs to know none of them.

A blind index can be missing on rows written before their column was indexed (a column
registered with indexed=False that later gains an index, as the case reporter's phone did).
No migration can compute it (the keys live outside the database), so every rotation fills the
missing ones as it passes, and `fill_missing_indexes` (`jiedao keys reindex`) does only that,
without a new key.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

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
        number = 1 + max(int(k[1:]) for k in ring.index_keys)
        ring.index_keys[f"i{number}"] = crypto.secrets.token_bytes(32)
        ring.index = f"i{number}"
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
                .values_list("pk", *filter(None, (enc_field, bidx_field)))[:batch_size]
            )
            if not rows:
                break
            last_pk = rows[-1][0]
            with transaction.atomic():
                for pk, token, *index in rows:
                    missing = bool(bidx_field) and not index[0]
                    if crypto.key_id_of(token) == new_key and not (reindex or missing):
                        continue
                    plain = crypto.decrypt(token, ring)
                    changes = {enc_field: crypto.encrypt(plain, ring)}
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
                .values_list("pk", enc_field)[:batch_size]
            )
            if not rows:
                break
            last_pk = rows[-1][0]
            with transaction.atomic():
                for pk, token in rows:
                    index = crypto.blind_index(crypto.decrypt(token, ring), kind=kind, keyring=ring)
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
