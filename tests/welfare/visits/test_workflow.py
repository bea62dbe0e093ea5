"""The request and 优待证 workflows against their tables: every state × action × role, compare-and-
set, history rows and audit events."""

import itertools

import pytest
from django.http import Http404

from jiedao.core.errors import ConflictError, DomainError, PermissionError_
from jiedao.core.models import AuditEvent
from jiedao.welfare.models.visits import (
    CardApplication,
    CardState,
    CardTransition,
    RequestState,
    RequestTransition,
    ServiceRequest,
)
from jiedao.welfare.visits import services
from jiedao.welfare.visits.workflow import CARD_TABLE, REQUEST_TABLE, CardAction, RequestAction, WelfareActor

ROLES = {  # named user → actor kinds on a veteran in 东门第一网格
    "worker": {WelfareActor.VISITOR},
    "secretary": {WelfareActor.VISITOR, WelfareActor.MANAGER},
    "leader": {WelfareActor.VISITOR, WelfareActor.MANAGER},
    "admin": {WelfareActor.VISITOR, WelfareActor.MANAGER},
}
OUTSIDERS = ("other_worker", "village_worker", "handler")
PARAMS = {CardAction.MAKE: {"card_number": "ZJ0001"}}


def test_actor_kinds_match_the_roles(world, v):
    for name, kinds in ROLES.items():
        assert services.actor_kinds(getattr(world, name), v.dan.node.path) == kinds, name


def _run(act, obj, model, history, table, state, action, world, params):
    row = table.find(action, state)
    for name in (*ROLES, *OUTSIDERS):
        actor = getattr(world, name)
        model.objects.filter(pk=obj.pk).update(state=state)
        obj.refresh_from_db()
        version, steps = obj.version, history.objects.count()
        call = lambda actor=actor: act(actor, obj, action, "说明", params)  # noqa: E731
        if name in OUTSIDERS:
            with pytest.raises(Http404):
                call()
        elif row is None:
            with pytest.raises(DomainError) as exc:
                call()
            assert not isinstance(exc.value, PermissionError_) and exc.value.field == "action"
        elif not row.actors & ROLES[name]:
            with pytest.raises(PermissionError_):
                call()
        else:
            fresh = call()
            assert fresh.state == (row.target or state) and fresh.version == version + 1, (name, state, action)
            last = history.objects.order_by("-pk").first()
            assert (last.action, last.from_state, last.to_state, last.seq) == (action, state, fresh.state, version + 1)
            continue
        obj.refresh_from_db()
        assert obj.version == version and history.objects.count() == steps, (name, state, action)


@pytest.mark.parametrize(("state", "action"), list(itertools.product(RequestState.values, RequestAction.values)))
def test_request_state_action_role(world, v, state, action):
    obj = services.request_create(actor=world.worker, veteran=v.dan_veteran, kind="help", content="住院困难")
    _run(lambda actor, o, a, r, p: services.request_act(actor=actor, request=o, action=a, reason=r),
         obj, ServiceRequest, RequestTransition, REQUEST_TABLE, state, action, world, {})


@pytest.mark.parametrize(("state", "action"), list(itertools.product(CardState.values, CardAction.values)))
def test_card_state_action_role(world, v, state, action):
    obj = services.card_apply(actor=world.worker, veteran=v.dan_veteran)
    _run(lambda actor, o, a, r, p: services.card_act(actor=actor, application=o, action=a, reason=r, **p),
         obj, CardApplication, CardTransition, CARD_TABLE, state, action, world, PARAMS.get(action, {}))


def test_reasons_and_card_number_are_required(world, v):
    req = services.request_create(actor=world.worker, veteran=v.dan_veteran, kind="claim", content="咨询")
    with pytest.raises(DomainError) as exc:
        services.request_act(actor=world.secretary, request=req, action="finish")
    assert exc.value.field == "reason"
    app = services.card_apply(actor=world.worker, veteran=v.dan_veteran)
    app = services.card_act(actor=world.secretary, application=app, action="approve")
    with pytest.raises(DomainError) as exc:
        services.card_act(actor=world.secretary, application=app, action="make")
    assert exc.value.field == "card_number"
    with pytest.raises(DomainError) as exc:
        services.card_act(actor=world.secretary, application=app, action="reject")  # not from 已审核
    assert exc.value.field == "action"


def test_compare_and_set_one_of_two_wins(world, v):
    req = services.request_create(actor=world.worker, veteran=v.dan_veteran, kind="help", content="求助")
    stale = ServiceRequest.objects.get(pk=req.pk)
    services.request_act(actor=world.secretary, request=req, action="start")
    from jiedao.welfare.visits.services import REQUEST_MACHINE

    with pytest.raises(ConflictError):
        REQUEST_MACHINE.act(stale, actor=world.leader, kinds={WelfareActor.MANAGER}, action="finish", reason="办好")
    assert ServiceRequest.objects.get(pk=req.pk).state == "in_progress"
    assert RequestTransition.objects.filter(request=req).count() == 1


def test_finish_records_result_and_audit(world, v):
    req = services.request_create(actor=world.worker, veteran=v.dan_veteran, kind="help", content="求助")
    req = services.request_act(actor=world.secretary, request=req, action="finish", reason="已协调解决")
    assert req.state == "done" and req.result == "已协调解决" and req.done_at
    assert AuditEvent.objects.filter(action="welfare.servicerequest.finish", object_id=str(req.pk)).exists()
    req = services.request_act(actor=world.secretary, request=req, action="reopen", reason="问题复发")
    assert req.state == "in_progress" and req.done_at is None


def test_the_workflow_document_matches_the_tables():
    from pathlib import Path

    from jiedao.welfare.visits.docs import workflow_markdown

    docs = Path(__file__).resolve().parents[3] / "docs" / "veterans-workflow.md"
    assert docs.read_text(encoding="utf-8") == workflow_markdown(), (
        "run: python -m jiedao.welfare.visits.docs > docs/veterans-workflow.md")
