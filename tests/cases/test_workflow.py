"""The case workflow against its transition table, with the named users of tests/conftest.py."""

import itertools
import pickle
from datetime import timedelta

import pytest
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from jiedao.cases import services
from jiedao.cases.models import Case, CaseStat, CaseTransition, Rating, Source, State, Tier
from jiedao.cases.statistics import rollups
from jiedao.cases.workflow import TRANSITIONS, Action, find
from jiedao.core import audit
from jiedao.core.errors import ConflictError, DomainError, PermissionError_
from jiedao.core.models import AuditEvent


def file_case(world, catalogue, **over):
    fields = dict(actor=world.worker, source=Source.DOOR_VISIT, node=world.grid, building=world.building,
                  title="楼下垃圾三天没人清运", description="1幢楼下垃圾堆放三天，臭气熏天。",
                  category=catalogue["garbage"], reporter_name="陈阿姨", reporter_phone="13812345678")
    fields.update(over)
    return services.case_create(**fields)


def test_full_loop_from_door_step_to_close(world, catalogue):
    case = file_case(world, catalogue)
    assert case.state == State.REPORTED and case.tier == Tier.PUBLIC and case.reporter_phone_masked == "138******78"
    assert case.grid_id == world.grid.pk and case.community_id == world.community.pk
    case = services.case_act(actor=world.secretary, case=case, action=Action.ACCEPT)
    case = services.case_act(actor=world.secretary, case=case, action=Action.DISPATCH)
    assert case.handling_department == world.department and case.deadline_at > case.dispatched_at
    assert case.level == 2
    with pytest.raises(PermissionError_):
        services.case_act(actor=world.worker, case=case, action=Action.ACKNOWLEDGE)
    case = services.case_act(actor=world.handler, case=case, action=Action.ACKNOWLEDGE)
    case = services.case_act(actor=world.handler, case=case, action=Action.RESOLVE, reason="已清运并加设垃圾桶")
    case = services.case_act(actor=world.worker, case=case, action=Action.VERIFY_PASS)
    case = services.case_act(actor=None, ticket=case.ticket, case=case, action=Action.FOLLOW_UP, contacted=True,
                             solved=True, rating=Rating.SATISFIED)
    case = services.case_act(actor=world.secretary, case=case, action=Action.CLOSE)
    assert case.state == State.CLOSED and case.resolved_level == 2 and case.rating == Rating.SATISFIED
    assert (case.contacted_in_time, case.solved) == (True, True)
    steps = list(case.transitions.values_list("seq", "action", "to_state"))
    assert [s[1] for s in steps] == ["report", "accept", "dispatch", "acknowledge", "resolve", "verify_pass",
                                     "follow_up", "close"]
    assert [s[0] for s in steps] == list(range(8))
    assert AuditEvent.objects.filter(object_type="cases.case", object_id=str(case.pk)).count() == 8
    assert audit.verify_chain().ok
    rollups.fold()
    stat = CaseStat.objects.get(node=world.grid)
    assert (stat.reported, stat.accepted, stat.dispatched, stat.resolved, stat.closed, stat.followed_up,
            stat.contacted, stat.solved, stat.satisfied, stat.resolved_level2, stat.due, stat.due_resolved,
            stat.on_time, stat.due_closed) == (1,) * 14


def test_failed_verification_and_unsatisfied_rating_send_case_back(world, catalogue):
    case = file_case(world, catalogue)
    for actor, action, kw in [(world.secretary, Action.ACCEPT, {}), (world.secretary, Action.DISPATCH, {}),
                              (world.handler, Action.ACKNOWLEDGE, {}),
                              (world.handler, Action.RESOLVE, {"reason": "已处理"})]:
        case = services.case_act(actor=actor, case=case, action=action, **kw)
    case = services.case_act(actor=world.worker, case=case, action=Action.VERIFY_FAIL, reason="现场仍有垃圾")
    assert case.state == State.IN_PROGRESS and case.rework_count == 1 and case.resolved_at is None
    case = services.case_act(actor=world.handler, case=case, action=Action.RESOLVE, reason="再次清运")
    case = services.case_act(actor=world.worker, case=case, action=Action.VERIFY_PASS)
    case = services.case_act(actor=None, ticket=case.ticket, case=case, action=Action.FOLLOW_UP, contacted=True,
                             solved=True, rating=Rating.UNSATISFIED, comment="没解决")
    assert case.state == State.IN_PROGRESS and case.reopen_count == 1 and case.resolved_at is None
    rollups.fold()
    stat = CaseStat.objects.get(node=world.grid)
    # Counted once each, as cases: reworked, reopened, followed up (unsatisfied); not resolved now.
    assert (stat.reworked, stat.reopened, stat.followed_up, stat.unsatisfied, stat.resolved) == (1, 1, 1, 1, 0)
    case = services.case_act(actor=world.handler, case=case, action=Action.RESOLVE, reason="第三次清运")
    with pytest.raises(DomainError) as refused:  # the three answers are all required
        services.case_act(actor=world.secretary, case=case, action=Action.FOLLOW_UP, rating=Rating.BASIC)
    assert refused.value.field == "contacted"
    # "Not solved" sends the case back even when the resident is satisfied with the staff.
    case = services.case_act(actor=world.secretary, case=case, action=Action.FOLLOW_UP, contacted=False,
                             solved=False, rating=Rating.BASIC)
    assert case.state == State.IN_PROGRESS and case.reopen_count == 2 and case.resolved_at is None


def test_a_bad_follow_up_of_a_case_without_a_unit_goes_back_to_accepted(world, catalogue):
    private = file_case(world, catalogue, tier=Tier.PRIVATE, title="家中水管漏水", description="自家水管")
    private = services.case_act(actor=world.secretary, case=private, action=Action.ACCEPT)
    private = services.case_act(actor=world.secretary, case=private, action=Action.RESOLVE, reason="建议联系物业维修")
    private = services.case_act(actor=None, ticket=private.ticket, case=private, action=Action.FOLLOW_UP,
                                contacted=True, solved=False, rating=Rating.SATISFIED)
    assert private.state == State.ACCEPTED and private.resolved_at is None and private.solved is False


def test_wrong_ticket_is_404_for_residents(world, catalogue):
    case = file_case(world, catalogue)
    with pytest.raises(Http404):
        services.case_act(actor=None, ticket="20260101-AAAAAAAA", case=case, action=Action.FOLLOW_UP, rating="satisfied")


def test_escalation_levels_and_private_matters(world, catalogue):
    case = file_case(world, catalogue, category=catalogue["dispute"], title="邻里噪音纠纷", description="楼上深夜噪音")
    case = services.case_act(actor=world.secretary, case=case, action=Action.ACCEPT)
    case = services.case_act(actor=world.secretary, case=case, action=Action.DISPATCH)
    assert case.handling_node_id == world.community.pk and case.level == 1
    case = services.case_act(actor=world.secretary, case=case, action=Action.ESCALATE, reason="调解不成")
    assert (case.state, case.level) == (State.ACCEPTED, 2)
    case = services.case_act(actor=world.secretary, case=case, action=Action.ESCALATE, reason="涉及多个部门")
    assert case.level == 3 and case.difficult
    private = file_case(world, catalogue, tier=Tier.PRIVATE, title="家中水管漏水", description="自家水管")
    private = services.case_act(actor=world.secretary, case=private, action=Action.ACCEPT)
    with pytest.raises(DomainError):
        services.case_act(actor=world.secretary, case=private, action=Action.DISPATCH)
    private = services.case_act(actor=world.secretary, case=private, action=Action.RESOLVE, reason="建议联系物业维修")
    assert private.guidance == "建议联系物业维修" and private.resolved_level == 1


def test_compare_and_set_refuses_a_stale_actor(world, catalogue):
    case = file_case(world, catalogue)
    stale = Case.objects.get(pk=case.pk)
    services.case_act(actor=world.secretary, case=case, action=Action.ACCEPT)
    # A second accept from the same stale view: the table refuses it (state moved on).
    with pytest.raises(DomainError):
        services.case_act(actor=world.secretary, case=stale, action=Action.ACCEPT)
    # The guarded update itself: a version that moved meanwhile changes nothing.
    assert Case.objects.filter(pk=case.pk, version=stale.version).update(state=State.REJECTED) == 0
    assert Case.objects.get(pk=case.pk).state == State.ACCEPTED


def test_other_grid_worker_cannot_see_or_act(world, catalogue):
    case = file_case(world, catalogue)
    with pytest.raises(Http404):
        services.case_act(actor=world.other_worker, case=case, action=Action.ACCEPT)
    with pytest.raises(Http404):
        services.case_act(actor=world.village_worker, case=case, action=Action.VERIFY_PASS)


# --- every state x action x role against the table -------------------------------------------

USERS = ["worker", "other_worker", "secretary", "handler", "leader", "admin"]


class _Rollback(Exception):
    pass


def _params(action, world, other_case):
    return {
        Action.TIER: {"tier": Tier.PUBLIC},
        Action.FOLLOW_UP: {"contacted": True, "solved": True, "rating": Rating.BASIC},
        Action.MERGE: {"into": other_case},
        Action.DEFER: {"new_deadline": timezone.localdate() + timedelta(days=10)},
        Action.HAND_OVER: {"district_ref": "区指挥中心-001"},
        Action.DISTRICT_REPLY: {"outcome": "returned", "reply": "请街道继续办理"},
    }.get(action, {})


def _expected(world, username, case, action):
    """What the table says: 404 out of scope, "state" for no row (or a guard's refusal, which is
    also answered on the field "action"), "forbidden" for the wrong actor kind, else "ok"."""
    transition = find(action, case.state)
    if username == "other_worker":
        return "404"
    if transition is None:
        return "state"
    kinds = {"worker": {"grid"}, "secretary": {"community"}, "handler": {"handler"}, "leader": {"leader"},
             "admin": {"admin"}}[username]
    if not transition.actors & kinds:
        return "forbidden"
    return "state" if transition.refusal(case, getattr(world, username), kinds) else "ok"


@pytest.mark.parametrize("state", list(State.values))
def test_every_state_action_role_combination(world, catalogue, state):
    # One case is filed and put in `state`; every combination starts from it afresh (a new
    # instance of it, and a savepoint rolled back at the end) rather than filing its own.
    filed = file_case(world, catalogue)
    Case.objects.filter(pk=filed.pk).update(state=state, tier=Tier.PUBLIC, handling_department=world.department, level=2)
    filed.refresh_from_db()
    pristine = pickle.dumps(filed)
    checked = 0
    for action, username in itertools.product(Action.values, USERS):
        expected = _expected(world, username, filed, action)
        user = getattr(world, username)
        try:
            with transaction.atomic():
                case = pickle.loads(pristine)
                other = file_case(world, catalogue, title="另一件") if action == Action.MERGE else None
                before = (case.state, case.version, CaseTransition.objects.filter(case=case).count())
                outcome = "ok"
                try:
                    services.case_act(actor=user, case=case, action=action, reason="说明", **_params(action, world, other))
                except Http404:
                    outcome = "404"
                except PermissionError_:
                    outcome = "forbidden"
                except DomainError as exc:
                    outcome = "state" if exc.field == "action" else f"domain:{exc.message}"
                after = Case.objects.get(pk=case.pk)
                changed = (after.state, after.version, CaseTransition.objects.filter(case=case).count()) != before
                assert outcome == expected, (state, action, username, outcome)
                assert changed == (outcome == "ok"), (state, action, username, "changed" if changed else "unchanged")
                checked += 1
                raise _Rollback
        except _Rollback:
            pass
    assert checked == len(Action.values) * len(USERS)


def test_table_has_one_row_per_action_and_state():
    seen = set()
    for transition in TRANSITIONS:
        for state in transition.sources:
            assert (transition.action, state) not in seen
            seen.add((transition.action, state))


def test_conflict_error_on_lost_race(world, catalogue, monkeypatch):
    """Simulate the other request winning between our read and our guarded update."""
    case = file_case(world, catalogue)
    real_filter = Case.objects.filter

    def racing_filter(*args, **kwargs):
        if "version" in kwargs:
            Case.objects.all().update(version=99)  # someone else committed first
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(Case.objects, "filter", racing_filter)
    with pytest.raises(ConflictError):
        services.case_act(actor=world.secretary, case=case, action=Action.ACCEPT)
    monkeypatch.undo()
    assert Case.objects.get(pk=case.pk).state == State.REPORTED


def test_docs_show_the_current_table():
    from pathlib import Path

    from jiedao.cases.docs import workflow_markdown

    docs = Path(__file__).resolve().parents[2] / "docs" / "workflow.md"
    assert docs.read_text(encoding="utf-8") == workflow_markdown(), "run: python -m jiedao.cases.docs > docs/workflow.md"
