"""Key rotation for the encrypted personal-data columns (`jiedao keys rotate`).

A new data key is added to the keyring and made active, so new writes use it at once; then
every ciphertext made under an older key is re-encrypted in small batches. Each row is
rewritten with compare-and-set on its old ciphertext, so a concurrent edit is never overwritten,
and old keys stay in the keyring, so every value stays readable throughout: no downtime, no loss.
With `rotate_index=True` the blind-index key is rotated the same way (lookups try every index
key until the rotation is complete).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from jiedao.core import audit, crypto
from jiedao.people.models import Business, Resident

# (model, encrypted column, blind-index column, blind-index kind)
ENCRYPTED_COLUMNS = [
    (Resident, "id_number_enc", "id_number_bidx", "id_number"),
    (Resident, "phone_enc", "phone_bidx", "phone"),
    (Business, "phone_enc", "phone_bidx", "phone"),
]


@dataclass
class RotationReport:
    key_id: str
    index_key_id: str
    reencrypted: int = 0
    skipped_concurrent: int = 0


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
    for model, enc_field, bidx_field, kind in ENCRYPTED_COLUMNS:
        last_pk = 0
        while True:
            # Walk by primary key: rows re-encrypted in a batch are not visited again.
            rows = list(
                model.objects.filter(pk__gt=last_pk)
                .exclude(**{enc_field: ""})
                .order_by("pk")
                .values_list("pk", enc_field)[:batch_size]
            )
            if not rows:
                break
            last_pk = rows[-1][0]
            with transaction.atomic():
                for pk, token in rows:
                    if crypto.key_id_of(token) == new_key and not rotate_index:
                        continue
                    plain = crypto.decrypt(token, ring)
                    changes = {enc_field: crypto.encrypt(plain, ring)}
                    if rotate_index:
                        changes[bidx_field] = crypto.blind_index(plain, kind=kind, keyring=ring)
                    updated = model.objects.filter(pk=pk, **{enc_field: token}).update(**changes)
                    report.reencrypted += updated
                    report.skipped_concurrent += 1 - updated
    with transaction.atomic():
        audit.record(
            actor=None, action="core.keys.rotate", object_type="keyring", object_id=new_key,
            after={"key_id": new_key, "index_key_id": ring.index, "reencrypted": report.reencrypted},
        )
    return report
