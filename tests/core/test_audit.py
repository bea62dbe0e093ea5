from django.db import connection

from jiedao.core import audit
from jiedao.core.models import AuditEvent
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
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditevent SET object_repr = %s WHERE id = %s", ["篡改", victim.id])
    result = audit.verify_chain()
    assert not result.ok
    assert result.problem.event_id == victim.id
    assert f"id={victim.id}" in result.problem.message


def test_chain_detects_removed_row(world):
    victim = AuditEvent.objects.order_by("seq")[5]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [victim.id])
    result = audit.verify_chain()
    assert not result.ok
    assert result.problem.seq == victim.seq


def test_chain_detects_truncated_tail(world):
    last = AuditEvent.objects.order_by("-seq").first()
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
    from jiedao.core.models import AuditChainHead

    victim = AuditEvent.objects.first().chain
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditevent WHERE chain = %s", [victim])
        cursor.execute("DELETE FROM core_auditchainhead WHERE chain = %s", [victim])
    result = audit.verify_chain()
    assert not result.ok and victim in result.problem.message
    assert AuditChainHead.objects.count() == audit.CHAIN_COUNT - 1


def test_events_spread_over_chains(world):
    chains = set(AuditEvent.objects.values_list("chain", flat=True))
    assert len(chains) > 1 and chains <= set(audit.chain_names())
