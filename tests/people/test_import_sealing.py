"""Resident imports seal each identifier once, at commit, bound to its row; the batch helpers they
use give the same values as the one-value primitives; one audit event per resident, chain intact."""

import json

import pytest

from jiedao.core import audit, crypto, filevault, imports, sealed
from jiedao.core.models import AuditEvent, ImportJob
from jiedao.people import importers  # (also registers the specs)
from jiedao.people.models import Household, Resident
from tests.people.test_import import good_row, ident, run, xlsx


def _commit(world, rows, actor=None):
    job = run(world, xlsx(rows), actor=actor)
    assert job.status == ImportJob.Status.VALIDATED and job.bad_rows == 0, imports.read_errors(job)
    return imports.import_commit(actor=actor or world.secretary, job=job)


def test_each_value_is_sealed_bound_to_its_row(world):
    job = _commit(world, [good_row(n) for n in range(1, 8)])
    assert job.created_rows == 7
    for resident in Resident.objects.order_by("pk"):
        n = int(resident.name.removeprefix("居民"))
        assert crypto.is_bound(resident.id_number_enc) and crypto.is_bound(resident.phone_enc)
        assert sealed.reveal(resident, "id_number") == ident(n)
        assert sealed.reveal(resident, "phone") == f"1381234{n:04d}"
        expected = sealed.seal("id_number", ident(n))
        assert (resident.id_number_bidx, resident.id_number_masked, resident.gender, resident.birth_date) == (
            expected.blind_index, expected.mask, expected.gender, expected.birth_date)
        assert resident.phone_bidx == crypto.blind_index(f"1381234{n:04d}", kind="phone")
    # A ciphertext moved to another row no longer opens.
    first, second = Resident.objects.order_by("pk")[:2]
    first.id_number_enc = second.id_number_enc
    try:
        sealed.reveal(first, "id_number")
        raise AssertionError("a ciphertext moved to another row must not authenticate")
    except crypto.DecryptionError:
        pass


def test_one_audit_event_per_resident_and_the_chain_verifies(world):
    job = _commit(world, [good_row(n) for n in range(1, 26)])
    events = AuditEvent.objects.filter(action="people.resident.import")
    assert job.created_rows == 25 and events.count() == 25
    assert sorted(int(e.object_id) for e in events) == sorted(Resident.objects.values_list("pk", flat=True))
    for event in events:
        assert event.actor_id == world.secretary.pk and event.before is None
        assert event.after["id_number_masked"].startswith("33") and "*" in event.after["id_number_masked"]
        assert event.hash == audit.compute_hash(event, audit.audit_key()[0])  # what the stored JSON reads back as
        text = json.dumps(event.after, ensure_ascii=False)
        assert not any(ident(n) in text or f"1381234{n:04d}" in text for n in range(1, 26))
    assert audit.verify_chain().ok


def test_reimport_keeps_an_unchanged_ciphertext_and_reseals_a_changed_phone(world):
    rows = [good_row(n) for n in range(1, 6)]
    _commit(world, rows)
    before = {r.pk: (r.id_number_enc, r.phone_enc) for r in Resident.objects.all()}
    rows[2][2] = "13999990000"  # a new phone for 居民3
    rows[3][0] = "改名"
    job = _commit(world, rows)
    assert (job.created_rows, job.updated_rows) == (0, 5) and Resident.objects.count() == 5
    for resident in Resident.objects.all():
        assert resident.id_number_enc == before[resident.pk][0]  # same number, bound to this row: kept
        assert sealed.reveal(resident, "id_number").startswith("330225")
    changed = Resident.objects.get(name="居民3")
    assert changed.phone_enc != before[changed.pk][1] and sealed.reveal(changed, "phone") == "13999990000"
    assert changed.phone_bidx == crypto.blind_index("13999990000", kind="phone")
    assert changed.phone_masked == crypto.mask("13999990000", "phone")
    event = AuditEvent.objects.filter(action="people.resident.import", object_id=str(changed.pk)).latest("id")
    assert event.before == {"phone_masked": crypto.mask(good_row(3)[2], "phone")}
    assert event.after == {"phone_masked": crypto.mask("13999990000", "phone")}
    renamed = Resident.objects.get(name="改名")
    event = AuditEvent.objects.filter(action="people.resident.import", object_id=str(renamed.pk)).latest("id")
    assert (event.before, event.after) == ({"name": "居民4"}, {"name": "改名"})
    unchanged = Resident.objects.get(name="居民1")
    event = AuditEvent.objects.filter(action="people.resident.import", object_id=str(unchanged.pk)).latest("id")
    assert (event.before, event.after) == ({}, {})  # re-imported as it was: recorded, nothing changed
    # Its identifiers' columns were not rewritten (only the plain columns are, when they are unchanged).
    assert (unchanged.id_number_enc, unchanged.phone_enc) == before[unchanged.pk]
    assert unchanged.birth_date.isoformat() == "1980-01-01" and unchanged.gender
    assert audit.verify_chain().ok


def test_reimport_reseals_a_ciphertext_of_an_older_key(world):
    _commit(world, [good_row(1)])
    resident = Resident.objects.get()
    old_token = resident.id_number_enc
    ring = crypto.get_keyring()
    old_active = ring.active
    ring.add_key()
    ring.save()
    try:
        _commit(world, [good_row(1)])
        resident.refresh_from_db()
        assert crypto.key_id_of(resident.id_number_enc) == ring.active != old_active
        assert resident.id_number_enc != old_token and sealed.reveal(resident, "id_number") == ident(1)
    finally:
        crypto.reload_keyring()


def test_households_are_created_once_per_number(world):
    _commit(world, [good_row(n) for n in range(3, 12)])  # 户号 H0001..H0003, three residents each
    assert Household.objects.count() == 3
    for household in Household.objects.all():
        assert Resident.objects.filter(household=household).count() == 3 and household.address == "1幢"
    _commit(world, [good_row(n) for n in range(3, 12)])
    assert Household.objects.count() == 3


def test_staged_rows_are_read_back_as_they_were_written(world):
    job = run(world, xlsx([good_row(1), good_row(2, **{"特殊人群": "独居老人"})]))
    batches = list(imports._staged_batches(job))
    assert [number for number, _ in batches[0]] == [2, 3]
    row = batches[0][0][1]
    assert isinstance(row, importers.ResidentRow) and row.id_number == ident(1)
    assert row.id_bidx == crypto.blind_index(ident(1), kind="id_number") and row.id_lookup == ()  # one index key
    assert row.birth_date == sealed.seal("id_number", ident(1)).birth_date.isoformat()
    assert batches[0][1][1].groups and not row.groups
    raw = imports.stage_file(job).read_bytes()
    assert raw.startswith(filevault.MAGIC) and ident(1).encode() not in raw
    imports.import_cancel(actor=world.secretary, job=job)


def test_encrypt_many_and_blind_indexer_match_the_primitives(world):
    ring = crypto.get_keyring()
    items = [("330225198001010013", b"ctx-1"), ("", b"ctx-2"), ("13812345678", None), ("中文", b"x")]
    tokens = crypto.encrypt_many(items, ring)
    assert tokens[1] == ""
    assert crypto.decrypt(tokens[0], ring, aad=b"ctx-1") == "330225198001010013" and crypto.is_bound(tokens[0])
    assert crypto.decrypt(tokens[2], ring) == "13812345678" and not crypto.is_bound(tokens[2])
    assert crypto.decrypt(tokens[3], ring, aad=b"x") == "中文"
    nonces = {crypto.encrypt_many([("a", None)], ring)[0] for _ in range(50)}
    assert len(nonces) == 50  # a fresh nonce each time
    index = crypto.blind_indexer("phone", keyring=ring)
    for value in ("13812345678", "+86 138-1234-5678", ""):
        assert index(value) == crypto.blind_index(value, kind="phone", keyring=ring)
    # The importer's indexers and masks take values it normalised itself: the same digests and masks.
    for kind, value in (("phone", "+86 138-1234-5678"), ("id_number", " 330225 19800101001x ")):
        normal = crypto.normalise(value, kind)
        assert crypto.blind_indexer(kind, keyring=ring, normalised=True)(normal) == crypto.blind_index(
            value, kind=kind, keyring=ring)
        assert crypto.mask_normalised(normal, kind) == crypto.mask(value, kind)


def test_reimport_finds_residents_while_the_index_key_is_rotated(world):
    """Rows written under the old blind-index key are found (and updated, not duplicated) by a
    re-import made after a new index key became active, before the rotation re-indexed them."""
    _commit(world, [good_row(n) for n in range(1, 4)])
    ring = crypto.get_keyring()
    ring.add_index_key()
    ring.save()
    try:
        job = _commit(world, [good_row(n) for n in range(1, 4)])
        assert (job.created_rows, job.updated_rows) == (0, 3) and Resident.objects.count() == 3
        assert set(Resident.objects.values_list("id_number_bidx", flat=True)) == {
            crypto.blind_index(ident(n), kind="id_number", keyring=ring) for n in range(1, 4)}
    finally:
        crypto.reload_keyring()


def test_encrypt_many_through_the_public_cipher_path_too(world, monkeypatch):
    """The fallback (Cipher(...).encryptor(), for another cryptography version) makes the same tokens."""
    monkeypatch.setattr(crypto, "_encryption_context", crypto._cipher_encryptor)
    ring = crypto.get_keyring()
    token = crypto.encrypt_many([("13812345678", b"row-9")], ring)[0]
    assert crypto.decrypt(token, ring, aad=b"row-9") == "13812345678"


def test_the_reimport_lookup_uses_the_partial_unique_index(world):
    """The lookup by blind index must not scan the register (a scan per batch is quadratic)."""
    from django.db import connection

    from jiedao.people.importers import _registered_sql

    if connection.vendor != "sqlite":
        pytest.skip("SQLite's plan")
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + _registered_sql(2), ["a", "b"])
        plan = " ".join(str(row) for row in cursor.fetchall())
    assert "resident_id_number_unique" in plan and "SCAN" not in plan
