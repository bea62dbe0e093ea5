import json
import os
import stat

import pytest
from django.db import DatabaseError, connection, transaction

from jiedao.core import audit, audit_checkpoints, audit_guard, crypto
from jiedao.core.models import AuditChainHead, AuditEvent
from jiedao.org import services


def test_every_service_write_is_audited(world):
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions.count("org.node.create") == 8
    assert actions.count("org.user.create") == 7
    assert actions.count("org.role.assign") == 7
    created = AuditEvent.objects.filter(action="org.user.create", object_repr="张网格").get()
    assert created.actor_repr == "admin"
    assert "password" not in created.after


def test_update_records_before_and_after(world):
    services.node_update(actor=world.admin, node=world.grid, name="东门一网格")
    event = AuditEvent.objects.filter(action="org.node.update").get()
    assert event.before == {"name": "东门第一网格"}
    assert event.after == {"name": "东门一网格"}


def test_chain_verifies_then_names_altered_row(world):
    assert audit.verify_chain().ok
    victim = AuditEvent.objects.filter(action="org.user.create").order_by("seq")[2]
    audit_guard.remove()  # an insider with DDL rights
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditevent SET object_repr = %s WHERE id = %s", ["篡改", victim.id])
    result = audit.verify_chain()
    assert not result.ok
    assert result.problem.event_id == victim.id
    assert f"id={victim.id}" in result.problem.message


def test_chain_detects_removed_row(world):
    victim = AuditEvent.objects.order_by("seq")[5]
    audit_guard.remove()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [victim.id])
    result = audit.verify_chain()
    assert not result.ok
    assert result.problem.seq == victim.seq


def test_chain_detects_truncated_tail(world):
    last = AuditEvent.objects.order_by("-seq").first()
    audit_guard.remove()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [last.id])
    assert not audit.verify_chain().ok


def test_orm_refuses_update_and_delete(world):
    import pytest

    event = AuditEvent.objects.first()
    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        AuditEvent.objects.all().delete()
    with pytest.raises(RuntimeError):
        AuditEvent.objects.update(action="x")


def test_chain_deleted_whole_is_detected(world):
    victim = AuditEvent.objects.first().chain
    audit_guard.remove()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE chain = %s", [victim])
        cursor.execute("DELETE FROM core_auditchainhead WHERE chain = %s", [victim])
    result = audit.verify_chain()
    assert not result.ok and victim in result.problem.message
    assert AuditChainHead.objects.count() == audit.CHAIN_COUNT - 1


def test_events_spread_over_chains(world):
    chains = set(AuditEvent.objects.values_list("chain", flat=True))
    assert len(chains) > 1 and chains <= set(audit.chain_names())


# --- an insider who can write the database (issue 12) ----------------------------------------


def _problems(result) -> list[tuple[str, int | None]]:
    return [(problem.chain, problem.seq) for problem in result.problems]


def _tail(chain: str, count: int, actor) -> list[AuditEvent]:
    """`count` events appended to one chain, the first a reveal of a resident's ID number."""
    events = [audit.record(actor=actor, action="people.resident.reveal_id_number", object_type="people.resident",
                           object_id=7, object_repr="某居民", reason="核对低保资格", chain=chain)]
    for n in range(count - 1):
        events.append(audit.record(actor=actor, action="org.node.update", object_type="org.orgnode", object_id=n,
                                   after={"name": f"第{n}网格"}, chain=chain))
    return events


def _raw_insert(event: AuditEvent) -> None:
    from jiedao.core.fastpath import insert_one

    insert_one(event)


def test_the_chain_is_keyed_with_the_audit_key_from_the_keyring(world):
    key, legacy = audit.audit_key()
    assert len(key) == 32 and legacy == {}
    assert crypto.Keyring.from_json(crypto.keyring_path().read_text()).audit_key == key
    event = AuditEvent.objects.order_by("id").first()
    assert event.hash == audit.compute_hash(event, key) != audit.compute_hash(event)
    # HMAC by RFC 2104 over SM3 (block 64 bytes): checked against the construction written out
    data = event.prev_hash.encode() + b"|" + audit._content(event)
    padded = key.ljust(64, b"\0")
    inner = audit.sm3_hex(bytes(b ^ 0x36 for b in padded) + data)
    assert audit.sm3_hex(bytes(b ^ 0x5C for b in padded) + bytes.fromhex(inner)) == event.hash


def test_database_refuses_update_and_delete_of_audit_rows(world):
    event = AuditEvent.objects.order_by("id").first()
    statements = [
        ("UPDATE core_auditevent SET reason = %s WHERE id = %s", ["改", event.id]),
        ("DELETE FROM core_auditevent WHERE id = %s", [event.id]),
        ("DELETE FROM core_auditchainhead WHERE chain = %s", [event.chain]),
        ("UPDATE core_auditchainhead SET last_seq = last_seq - 1 WHERE chain = %s", [event.chain]),
        ("UPDATE core_auditchainhead SET last_hash = %s WHERE chain = %s", ["0" * 64, event.chain]),
    ]
    if connection.vendor == "postgresql":
        statements.append(("TRUNCATE core_auditevent", []))
    for sql, params in statements:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    assert AuditEvent.objects.filter(id=event.id, reason=event.reason).exists()
    assert audit_guard.missing_triggers() == []
    # the platform's own head advance still goes through
    audit.record(actor=world.admin, action="org.node.update", object_type="org.orgnode", object_id=1, chain=event.chain)
    assert audit.verify_chain().ok


def test_verify_reports_missing_triggers(world):
    audit_guard.remove()
    result = audit.verify_chain()
    assert not result.ok and "append-only triggers" in result.problem.message


def test_forged_event_on_a_new_chain_is_reported(world):
    forged = AuditEvent(chain="main-16", seq=1, created_at=world.admin.date_joined, actor_id=world.admin.pk,
                        actor_repr="admin", action="people.resident.reveal_id_number", object_type="people.resident",
                        object_id="7", object_repr="某居民", reason="例行核对", prev_hash=audit.GENESIS)
    forged.hash = audit.compute_hash(forged)  # the unkeyed algorithm, all an insider without the keyring has
    _raw_insert(forged)  # INSERT is allowed: the platform appends
    AuditChainHead.objects.create(chain="main-16", last_seq=1, last_hash=forged.hash)
    result = audit.verify_chain()
    assert not result.ok
    assert ("main-16", 1) in _problems(result)
    messages = " ".join(p.message for p in result.problems if p.chain == "main-16")
    assert "forged" in messages and "keyed MAC" in messages


def test_forged_event_appended_to_a_chain_is_reported(world):
    last = AuditEvent.objects.order_by("-id").first()
    forged = AuditEvent(chain=last.chain, seq=last.seq + 1, created_at=last.created_at, actor_repr="admin",
                        action="people.resident.reveal_phone", object_type="people.resident", object_id="7",
                        prev_hash=last.hash)
    forged.hash = audit.compute_hash(forged)
    _raw_insert(forged)
    with connection.cursor() as cursor:  # the head may advance: the trigger allows it
        cursor.execute("UPDATE core_auditchainhead SET last_seq = %s, last_hash = %s WHERE chain = %s",
                       [forged.seq, forged.hash, last.chain])
    result = audit.verify_chain()
    assert _problems(result) == [(last.chain, forged.seq)]


def test_altered_reveal_with_the_rest_rehashed_and_the_head_moved_is_reported(world):
    reveal, *rest = _tail("main-03", 4, world.admin)
    assert audit.verify_chain().ok
    audit_guard.remove()  # an insider with DDL rights rewrites the chain from the reveal on
    prev = reveal.prev_hash
    for event in [reveal, *rest]:
        event = AuditEvent.objects.get(pk=event.pk)
        if event.pk == reveal.pk:
            event.reason, event.actor_repr = "", "系统"
        event.prev_hash = prev
        event.hash = audit.compute_hash(event)  # SM3 without the key
        prev = event.hash
        with connection.cursor() as cursor:
            cursor.execute("UPDATE core_auditevent SET reason = %s, actor_repr = %s, prev_hash = %s, hash = %s "
                           "WHERE id = %s", [event.reason, event.actor_repr, event.prev_hash, event.hash, event.pk])
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditchainhead SET last_hash = %s WHERE chain = %s", [prev, "main-03"])
    audit_guard.install()
    result = audit.verify_chain()
    assert _problems(result) == [("main-03", reveal.seq)]
    assert result.problem.event_id == reveal.pk and "re-hashed" in result.problem.message


def test_truncated_tail_is_reported_against_the_checkpoint(world):
    events = _tail("main-05", 3, world.admin)
    audit_checkpoints.write()
    path = audit_checkpoints.default_path()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert audit.verify_chain().ok
    last = events[-1]
    audit_guard.remove()  # drop the last event and move the head back: the database alone agrees
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [last.pk])
        cursor.execute("UPDATE core_auditchainhead SET last_seq = %s, last_hash = %s WHERE chain = %s",
                       [events[-2].seq, events[-2].hash, "main-05"])
    audit_guard.install()
    result = audit.verify_chain()
    assert _problems(result) == [("main-05", last.seq)]
    assert "truncated" in result.problem.message
    # the external copy says the same
    assert not audit.verify_chain(checkpoints_path=str(path)).ok


def test_checkpoint_lines_are_signed_and_a_changed_line_is_reported(world, settings, tmp_path):
    settings.JIEDAO_AUDIT_CHECKPOINT_SINK = str(tmp_path / "elsewhere" / "checkpoints.jsonl")
    _tail("main-07", 2, world.admin)
    heads = audit_checkpoints.write()
    path = audit_checkpoints.default_path()
    assert path.read_text() == (tmp_path / "elsewhere" / "checkpoints.jsonl").read_text()
    line = json.loads(path.read_text())
    assert line["heads"]["main-07"] == list(heads["main-07"])
    assert audit.verify_chain().checkpoints == 1
    line["heads"]["main-07"][0] += 5  # claims a longer chain, but cannot re-sign
    path.write_text(json.dumps(line) + "\n")
    result = audit.verify_chain()
    assert not result.ok and "第 1 行" in result.problem.message and "signature" in result.problem.message


def test_checkpoint_does_not_vouch_for_a_forged_tail(world):
    last = AuditEvent.objects.order_by("-id").first()
    audit_checkpoints.write()
    forged = AuditEvent(chain=last.chain, seq=last.seq + 1, created_at=last.created_at, actor_repr="admin",
                        action="x", prev_hash=last.hash)
    forged.hash = audit.compute_hash(forged)
    _raw_insert(forged)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditchainhead SET last_seq = %s, last_hash = %s WHERE chain = %s",
                       [forged.seq, forged.hash, last.chain])
    heads = audit_checkpoints.write()
    assert heads[last.chain] == (last.seq, last.hash)


def test_legacy_unkeyed_rows_verify_up_to_the_switch_point(db, settings, tmp_path):
    settings.JIEDAO_KEYRING = str(tmp_path / "old-ring.json")
    crypto.Keyring.generate(tmp_path / "old-ring.json").save()  # a keyring from before the audit key
    crypto.reload_keyring()
    prev = audit.GENESIS
    from django.utils import timezone

    for seq in (1, 2, 3):  # rows written by the unkeyed version
        event = AuditEvent(chain="main-01", seq=seq, created_at=timezone.now(), actor_repr="系统", action="legacy",
                           prev_hash=prev)
        event.hash = prev = audit.compute_hash(event)
        _raw_insert(event)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE core_auditchainhead SET last_seq = %s, last_hash = %s WHERE chain = %s",
                           [seq, prev, "main-01"])
    key, legacy = audit.audit_key()  # added on first use, the switch point recorded with it
    assert legacy == {"main-01": 3}
    assert crypto.Keyring.from_json((tmp_path / "old-ring.json").read_text()).audit_legacy == {"main-01": 3}
    audit.record(actor=None, action="after", chain="main-01")
    assert AuditEvent.objects.get(chain="main-01", seq=4).hash == audit.compute_hash(
        AuditEvent.objects.get(chain="main-01", seq=4), key)
    assert audit.verify_chain().ok
    # an unkeyed row past the switch point is not accepted as legacy
    after = AuditEvent.objects.get(chain="main-01", seq=4)
    forged = AuditEvent(chain="main-01", seq=5, created_at=after.created_at, actor_repr="系统", action="x",
                        prev_hash=after.hash)
    forged.hash = audit.compute_hash(forged)
    _raw_insert(forged)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditchainhead SET last_seq = 5, last_hash = %s WHERE chain = 'main-01'",
                       [forged.hash])
    assert _problems(audit.verify_chain()) == [("main-01", 5)]


def test_keyed_rows_beside_a_keyring_without_the_audit_key_are_not_declared_legacy(world, settings, tmp_path, caplog):
    settings.JIEDAO_KEYRING = str(tmp_path / "other-ring.json")  # a restore without the keyring
    crypto.Keyring.generate(tmp_path / "other-ring.json").save()
    crypto.reload_keyring()
    audit.record(actor=None, action="x")
    assert "restore the keyring" in caplog.text
    assert crypto.Keyring.from_json((tmp_path / "other-ring.json").read_text()).audit_legacy == {}
    result = audit.verify_chain()
    assert not result.ok and "keyed MAC mismatch" in result.problem.message


def test_rotating_the_audit_key_twice_keeps_every_row_and_checkpoint_verifying(world):
    audit_checkpoints.write()
    first_key, _legacy = audit.audit_key()
    until_first = audit.rotate_key()
    second_key, _legacy = audit.audit_key()
    _tail("main-02", 3, world.admin)
    audit_checkpoints.write()
    audit.rotate_key()
    third_key, _legacy = audit.audit_key()
    assert len({first_key, second_key, third_key}) == 3
    after = _tail("main-02", 2, world.admin)
    assert after[-1].hash == audit.compute_hash(after[-1], third_key)
    assert AuditEvent.objects.filter(action="core.audit.rotate_key").count() == 2
    ring = crypto.Keyring.from_json(crypto.keyring_path().read_text())
    assert [key for key, _until in ring.audit_retired] == [first_key, second_key]
    assert ring.audit_retired[0][1] == until_first
    result = audit.verify_chain()
    assert result.ok, result.problems


def test_after_a_rotation_a_row_signed_with_the_retired_key_is_reported(world):
    """A leaked old key is worth nothing once rotated: rows after the switch need the new key."""
    old_key, _legacy = audit.audit_key()
    audit.rotate_key()
    last = AuditEvent.objects.filter(chain="main-02").order_by("-seq").first() or _tail("main-02", 1, world.admin)[0]
    forged = AuditEvent(chain=last.chain, seq=last.seq + 1, created_at=last.created_at, actor_repr="admin",
                        action="people.resident.reveal_phone", object_type="people.resident", object_id="7",
                        prev_hash=last.hash)
    forged.hash = audit.compute_hash(forged, old_key)
    _raw_insert(forged)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditchainhead SET last_seq = %s, last_hash = %s WHERE chain = %s",
                       [forged.seq, forged.hash, last.chain])
    assert (last.chain, forged.seq) in _problems(audit.verify_chain())


def test_a_process_holding_the_old_keyring_signs_with_the_new_key(world):
    """Another process rotated the key: this one's cached keyring is stale, yet its next append
    (the chain head locked first) uses the new key."""
    stale = crypto.get_keyring()
    audit.rotate_key()
    new_key = crypto.get_keyring().audit_key
    crypto._cached = stale  # as a worker that read the keyring before the rotation
    event = audit.record(actor=world.admin, action="org.node.update", object_type="org.orgnode", object_id=1)
    assert event.hash == audit.compute_hash(event, new_key)
    assert audit.verify_chain().ok


def test_record_many_links_are_those_compute_hash_gives(world):
    """record_many assembles each event's canonical JSON from parts: the links must be exactly
    what record() / verify_chain compute from the stored row (odd text and nested values too)."""
    events = [
        ("people.resident.import", "people.resident", n, f"居民\"{n}\"\\", None if n % 2 else {"a": [1, "é"]},
         {"name": f"名{n}", "z": None, "b": {"y": 1, "x": "\u2028"}})
        for n in range(1, 6)
    ]
    assert audit.record_many(actor=world.admin, events=events, reason="导入作业 #1") == 5
    key, _legacy = audit.audit_key()
    stored = list(AuditEvent.objects.filter(reason="导入作业 #1"))
    assert len(stored) == 5
    assert all(audit.compute_hash(event, key) == event.hash for event in stored)
    assert audit.verify_chain().ok
