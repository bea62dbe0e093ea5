"""The intake's writes: the case and the rows filed with it (first transition, rollup delta,
suggestion record) go in through jiedao.core.fastpath's cached inserts — one statement on
PostgreSQL — and must read back exactly as the ORM would have written them."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiedao.cases import services
from jiedao.cases.models import Case, CaseStatDelta, CaseTransition, Source
from jiedao.core import audit
from jiedao.core.fastpath import insert_one, insert_with_children
from jiedao.core.models import AuditEvent
from jiedao.insight.models import CaseSuggestion


def file(world, **extra):
    return services.case_create(actor=world.worker, source=Source.DOOR_VISIT, node=world.grid,
                                building=world.building, title="楼下垃圾没人清运", description="1幢楼下垃圾堆了三天",
                                reporter_name="陈阿姨", reporter_phone="13812345678", **extra)


def test_the_case_and_its_rows_read_back_as_written(world, catalogue):
    case = file(world, category=catalogue["garbage"])
    stored = Case.objects.get(pk=case.pk)
    assert (stored.ticket, stored.title, stored.category_id, stored.tier) == (
        case.ticket, "楼下垃圾没人清运", catalogue["garbage"].pk, "public")
    assert stored.org_path == world.building.path and stored.grid_id == world.grid.pk
    assert stored.reporter_phone_masked == "138******78" and stored.reporter_phone_enc
    transition = CaseTransition.objects.get(case=stored)
    assert transition.pk == case.intake_transition.pk and transition.action == "report"
    assert transition.data == {"route": world.department.name}  # JSON round trip on either database
    assert stored.created_at == stored.updated_at == transition.created_at  # one moment for the rows
    delta = CaseStatDelta.objects.get(category_id=catalogue["garbage"].pk)
    assert (delta.reported, delta.node_id, delta.org_path) == (1, world.grid.pk, world.building.path)
    assert delta.month == timezone.localtime(stored.created_at).date().replace(day=1)
    event = AuditEvent.objects.get(action="cases.case.create", object_id=str(case.pk))
    assert event.after["ticket"] == case.ticket and event.after["category_id"] == catalogue["garbage"].pk
    assert audit.verify_chain().problem is None


def test_a_suggestion_found_at_intake_is_filed_with_the_case(world, catalogue):
    case = file(world)  # no category: the classifier ran, its answer is recorded with the case
    record = CaseSuggestion.objects.get(case=case)
    assert record.chosen_id is None and 0 < record.confidence <= 1
    assert record.suggested_id is not None
    assert case.category_id in (None, record.suggested_id)  # filed only when confident


def test_a_failing_intake_leaves_no_row_behind(world, catalogue, monkeypatch):
    before = (Case.objects.count(), CaseTransition.objects.count(), CaseStatDelta.objects.count(),
              AuditEvent.objects.count())

    def broken(**kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(audit, "record", broken)
    with pytest.raises(RuntimeError):
        file(world, category=catalogue["garbage"])
    assert (Case.objects.count(), CaseTransition.objects.count(), CaseStatDelta.objects.count(),
            AuditEvent.objects.count()) == before


def test_on_postgresql_the_case_and_its_rows_are_one_statement(world, catalogue):
    if connection.vendor != "postgresql":
        pytest.skip("one round trip matters where the database is across a socket")
    with CaptureQueriesContext(connection) as queries:
        file(world, category=catalogue["garbage"])
    inserts = [q["sql"] for q in queries.captured_queries if 'INSERT INTO "cases_' in q["sql"]]
    assert len(inserts) == 1
    assert all(table in inserts[0] for table in ('"cases_case"', '"cases_casetransition"', '"cases_casestatdelta"'))
    # the audit chain head is locked in the same statement, not by a query of its own
    assert 'FROM "core_auditchainhead"' in inserts[0] and "FOR UPDATE" in inserts[0]
    assert [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT last_seq")] == []


def test_insert_one_matches_the_orm(world, catalogue):
    case = file(world, category=catalogue["garbage"])
    moment = timezone.now()
    by_orm = CaseTransition.objects.create(case=case, seq=1, action="accept", from_state="reported",
                                           to_state="accepted", actor=world.secretary, actor_repr="书记",
                                           data={"note": "已受理", "n": [1, 2]}, created_at=moment)
    ours = insert_one(CaseTransition(case=case, seq=2, action="accept", from_state="reported", to_state="accepted",
                                     actor=world.secretary, actor_repr="书记", data={"note": "已受理", "n": [1, 2]},
                                     created_at=moment))
    assert ours.pk and ours.pk != by_orm.pk and not ours._state.adding
    a, b = CaseTransition.objects.get(pk=by_orm.pk), CaseTransition.objects.get(pk=ours.pk)
    fields = [f.attname for f in CaseTransition._meta.concrete_fields if f.attname not in ("id", "seq")]
    assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]


def test_insert_with_children_sets_every_key(world, catalogue):
    now = timezone.now()
    case = Case(ticket="20260101-TESTTEST", source=Source.HOTLINE, node=world.grid, org_path=world.grid.path,
                title="t", description="d", created_at=now, updated_at=now)
    first = CaseTransition(seq=0, action="report", from_state="reported", to_state="reported", actor_repr="x",
                           created_at=now)
    second = CaseTransition(seq=1, action="note", from_state="reported", to_state="reported", actor_repr="x",
                            created_at=now)
    insert_with_children(case, [(first, "case_id"), (second, "case_id")])
    assert case.pk and first.case_id == second.case_id == case.pk and first.pk and second.pk != first.pk
    assert sorted(CaseTransition.objects.filter(case_id=case.pk).values_list("pk", flat=True)) == sorted(
        [first.pk, second.pk])


@pytest.mark.parametrize("value", ["", 0, False, [], {"": 0}])
def test_insert_one_keeps_json_values_that_look_like_empty_constants(world, catalogue, value):
    """'' / 0 / false in a JSON column are JSON values, not the SQL constants written inline."""
    case = file(world, category=catalogue["garbage"])
    row = insert_one(CaseTransition(case=case, seq=1, action="note", from_state="reported", to_state="reported",
                                    actor_repr="x", data=value, created_at=timezone.now()))
    assert CaseTransition.objects.get(pk=row.pk).data == value


def test_the_intake_snapshot_is_the_json_round_trip_of_the_case(world, catalogue):
    """audit.snapshot converts each value itself instead of serializing the row twice: what it
    gives must be exactly what the JSON round trip gave (dates, decimals, JSON values, None)."""
    case = file(world, category=catalogue["garbage"], latitude="31.2304", longitude="121.4737")
    raw = {f.attname: getattr(case, f.attname) for f in Case._meta.concrete_fields
           if f.name not in Case.audit_exclude}
    assert isinstance(raw["latitude"], str | Decimal) and raw["created_at"].microsecond
    expected = json.loads(json.dumps(raw, cls=DjangoJSONEncoder, ensure_ascii=False))
    assert audit.snapshot(case) == expected
    assert [type(v) for v in audit.snapshot(case).values()] == [type(v) for v in expected.values()]
    assert audit.snapshot(case, ["ticket", "node"]) == {"ticket": case.ticket, "node_id": world.grid.pk}
    stored = AuditEvent.objects.get(action="cases.case.create", object_id=str(case.pk))
    assert stored.after == audit.snapshot(Case.objects.get(pk=case.pk)) | {
        "latitude": stored.after["latitude"], "longitude": stored.after["longitude"]}


def test_snapshot_of_unusual_values_matches_the_round_trip(world, catalogue):
    case = file(world, category=catalogue["garbage"])
    for value in (Decimal("1.50"), timezone.now().replace(microsecond=0), timezone.now().date(),
                  uuid.uuid4(), ("a", 1), {"k": [1, None]}, float("nan"), 2.5, Source.HOTLINE, True, 10**20):
        case.address = value  # any attribute value, as a model may hold before saving
        got = audit.snapshot(case, ["address"])["address"]
        want = json.loads(json.dumps({"a": value}, cls=DjangoJSONEncoder))["a"]
        assert (got == want or (got != got and want != want)) and type(got) is type(want), value


def test_on_postgresql_the_intake_statement_is_prepared(world, catalogue, settings):
    """Outside the query log the intake statement runs on a server-binding cursor; after
    `prepare_threshold` runs the connection holds it prepared, and the rows still read back."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    assert not connection.queries_logged
    cases = [file(world, category=catalogue["garbage"]) for _ in range(4)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('INSERT INTO "cases_case"' in text for text in prepared)
    for case in cases:
        stored = Case.objects.get(pk=case.pk)
        assert stored.ticket == case.ticket and stored.reporter_phone_masked == "138******78"
        assert CaseTransition.objects.get(case=stored).pk == case.intake_transition.pk
    assert audit.verify_chain().problem is None


def test_the_audit_event_follows_the_head_locked_with_the_case(world, catalogue):
    """The intake reads the chain head in its own statement: consecutive intakes on one chain
    get consecutive seqs and the chain verifies; a missing head row is created as before."""
    from jiedao.core import audit_guard
    from jiedao.core.models import AuditChainHead

    monkey_chain = "main-03"
    original = audit.pick_chain
    audit.pick_chain = lambda: monkey_chain
    try:
        first, second = file(world, category=catalogue["garbage"]), file(world, category=catalogue["garbage"])
        audit_guard.remove()  # (rolled back with the test) to empty a chain, as flushed tables would
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM core_auditevent WHERE chain = 'main-04'")
            cursor.execute("DELETE FROM core_auditchainhead WHERE chain = 'main-04'")
        audit.pick_chain = lambda: "main-04"
        third = file(world, category=catalogue["garbage"])
    finally:
        audit.pick_chain = original
    seqs = [AuditEvent.objects.get(action="cases.case.create", object_id=str(case.pk)).seq for case in (first, second)]
    assert seqs[1] == seqs[0] + 1
    assert AuditChainHead.objects.get(chain=monkey_chain).last_seq == seqs[1]
    event = AuditEvent.objects.get(action="cases.case.create", object_id=str(third.pk))
    assert event.chain == "main-04" and event.seq == 1 and AuditChainHead.objects.get(chain="main-04").last_seq == 1

