"""The generic workflow machine (jiedao.core.workflow): the table's guard as pure functions, and
the guarded compare-and-set over a real row, through a small table declared here over the case
model (any model with state/version and a history model of CaseTransition's shape would do)."""

from __future__ import annotations

import pytest
from django.db import models, transaction
from django.db.models import F

from jiedao.cases import services as case_services
from jiedao.cases.models import Case, CaseTransition, Source, State
from jiedao.cases.workflow import TABLE as CASE_TABLE
from jiedao.cases.workflow import Action as CaseAction
from jiedao.core.errors import ConflictError, DomainError, PermissionError_
from jiedao.core.models import AuditEvent
from jiedao.core.workflow import Effect, Machine, Step, Table, markdown_page, markdown_rows, transition


class Act(models.TextChoices):
    TAKE = "take", "接手"
    DROP = "drop", "放弃"
    NOTE = "note", "备注"
    BOUNCE = "bounce", "弹回"


class Who(models.TextChoices):
    CLERK = "clerk", "办事员"
    BOSS = "boss", "负责人"


TABLE = Table(noun="事项", states=State, actions=Act, actors=Who, transitions=(
    transition(Act.TAKE, {State.REPORTED}, State.ACCEPTED, {Who.CLERK, Who.BOSS}, note="接手"),
    transition(Act.DROP, {State.ACCEPTED}, State.REJECTED, {Who.BOSS}, needs_reason=True, note="说明理由"),
    transition(Act.NOTE, {State.REPORTED, State.ACCEPTED}, None, {Who.CLERK}),
    transition(Act.BOUNCE, {State.ACCEPTED}, State.REJECTED, {Who.CLERK}, note="效果可改目标"),
))


def _take(case, now, reason, params):
    return Effect({"supervise_count": F("supervise_count") + 1}, data={"who": "test"})


def _note(case, now, reason, params):
    if not params.get("text"):
        raise DomainError("请写备注。", field="text")
    return Effect(data={"text": params["text"]})


def _bounce(case, now, reason, params):
    return Effect({"closed_at": None}, target=State.REPORTED)


def make_machine(steps: list | None = None) -> Machine:
    return Machine(
        table=TABLE, model=Case, history_model=CaseTransition, history_fk="case",
        effects={Act.TAKE: _take, Act.NOTE: _note, Act.BOUNCE: _bounce},
        after=(lambda case, step: steps.append((case.pk, step))) if steps is not None else None,
    )


# --- the table, pure --------------------------------------------------------------------------


def test_table_questions():
    assert TABLE.find(Act.TAKE, State.REPORTED).target == State.ACCEPTED
    assert TABLE.find(Act.TAKE, State.ACCEPTED) is None
    assert TABLE.allowed_actions(State.ACCEPTED, {Who.CLERK}) == [Act.NOTE, Act.BOUNCE]
    assert TABLE.allowed_actions(State.ACCEPTED, {Who.BOSS, Who.CLERK}) == [Act.DROP, Act.NOTE, Act.BOUNCE]
    assert TABLE.allowed_actions(State.CLOSED, {Who.BOSS, Who.CLERK}) == []
    rows = TABLE.rows()
    assert rows[2] == {"action": "note", "action_label": "备注", "from": ["accepted", "reported"], "to": None,
                       "actors": ["clerk"], "needs_reason": False, "note": "", "guard": ""}


def test_table_refuses_a_second_row_for_the_same_action_and_state_and_unknown_values():
    with pytest.raises(ValueError, match="declared twice"):
        Table(noun="事项", states=State, actions=Act, actors=Who, transitions=(
            transition(Act.TAKE, {State.REPORTED}, State.ACCEPTED, {Who.CLERK}),
            transition(Act.TAKE, {State.REPORTED, State.CLOSED}, State.CLOSED, {Who.BOSS}),
        ))
    for bad in (transition("fly", {State.REPORTED}, None, {Who.CLERK}),
                transition(Act.TAKE, {"nowhere"}, None, {Who.CLERK}),
                transition(Act.TAKE, {State.REPORTED}, "nowhere", {Who.CLERK}),
                transition(Act.TAKE, {State.REPORTED}, None, {"stranger"}),
                transition(Act.TAKE, {State.REPORTED}, None, set())):
        with pytest.raises(ValueError):
            Table(noun="事项", states=State, actions=Act, actors=Who, transitions=(bad,))


def test_guard_answers_as_pure_functions():
    machine = make_machine()
    with pytest.raises(DomainError) as unknown:
        machine.check(State.REPORTED, action="fly", kinds={Who.BOSS})
    assert (unknown.value.message, unknown.value.field) == ("未知的操作“fly”。", "action")
    with pytest.raises(DomainError) as wrong_state:
        machine.check(State.CLOSED, action=Act.TAKE, kinds={Who.BOSS})
    assert (wrong_state.value.message, wrong_state.value.field) == ("“已结案”状态的事项不能接手。", "action")
    assert not isinstance(wrong_state.value, PermissionError_)
    with pytest.raises(PermissionError_) as forbidden:
        machine.check(State.ACCEPTED, action=Act.DROP, kinds={Who.CLERK}, reason="理由")
    assert forbidden.value.message == "您不能对该事项执行“放弃”。" and forbidden.value.status_code == 403
    with pytest.raises(DomainError) as no_reason:
        machine.check(State.ACCEPTED, action=Act.DROP, kinds={Who.BOSS}, reason="   ")
    assert (no_reason.value.message, no_reason.value.field) == ("请填写放弃的说明。", "reason")
    with pytest.raises(DomainError) as long_reason:
        machine.check(State.ACCEPTED, action=Act.DROP, kinds={Who.BOSS}, reason="长" * 2001)
    assert (long_reason.value.message, long_reason.value.field) == ("说明不能超过 2000 个字。", "reason")
    row, reason = machine.check(State.ACCEPTED, action=Act.DROP, kinds={Who.BOSS}, reason="  不再处理 ")
    assert row.target == State.REJECTED and reason == "不再处理"


def test_markdown_rows_and_page():
    rows = markdown_rows(TABLE)
    assert rows[:2] == ["| 动作 action | 从 from | 到 to | 谁可以 who | 条件 guard | 需说明 reason | 说明 |",
                        "|---|---|---|---|---|---|---|"]
    # States and actors in their enum order, whatever order the row was written in.
    assert rows[3] == "| 放弃 `drop` | 已受理 | 不予受理 | 负责人 |  | 是 | 说明理由 |"
    assert rows[4] == "| 备注 `note` | 待受理、已受理 | （不变） | 办事员 |  |  |  |"
    assert markdown_rows(GUARDED)[2] == "| 接手 `take` | 待受理 | 已受理 | 办事员、负责人 | 紧急的由负责人接手 |  | 接手 |"
    assert len(rows) == 2 + len(TABLE.transitions)
    page = markdown_page(TABLE, title="测试流转表", intro=["前言"], outro=["后记"])
    assert page == "\n".join(["# 测试流转表", "", "前言", "", *rows, "", "后记", ""])
    assert markdown_page(TABLE, title="T") == "\n".join(["# T", "", *rows, ""])


# --- guards: conditions beyond the state ---------------------------------------------------------


def _urgent_needs_the_boss(row, actor, kinds):
    if row.urgency == "urgent" and Who.BOSS not in kinds:
        return "紧急事项由负责人接手。"
    return None


GUARDED = Table(noun="事项", states=State, actions=Act, actors=Who, transitions=(
    transition(Act.TAKE, {State.REPORTED}, State.ACCEPTED, {Who.CLERK, Who.BOSS}, note="接手",
               guard=_urgent_needs_the_boss, guard_note="紧急的由负责人接手"),
    transition(Act.NOTE, {State.REPORTED}, None, {Who.CLERK}),
))


class _Row:
    def __init__(self, urgency):
        self.state, self.urgency = State.REPORTED, urgency


def test_a_guard_is_asked_by_the_offer_and_by_the_check():
    normal, urgent = _Row("normal"), _Row("urgent")
    # Without the row, the table answers as before; with it, a refused action is not offered.
    assert GUARDED.allowed_actions(State.REPORTED, {Who.CLERK}) == [Act.TAKE, Act.NOTE]
    assert GUARDED.allowed_actions(State.REPORTED, {Who.CLERK}, current=normal) == [Act.TAKE, Act.NOTE]
    assert GUARDED.allowed_actions(State.REPORTED, {Who.CLERK}, current=urgent) == [Act.NOTE]
    assert GUARDED.allowed_actions(State.REPORTED, {Who.BOSS}, current=urgent) == [Act.TAKE]
    assert GUARDED.rows()[0]["guard"] == "紧急的由负责人接手" and GUARDED.rows()[1]["guard"] == ""
    machine = Machine(table=GUARDED, model=Case, history_model=CaseTransition, history_fk="case")
    with pytest.raises(DomainError) as refused:
        machine.check(State.REPORTED, action=Act.TAKE, kinds={Who.CLERK}, current=urgent)
    assert (refused.value.message, refused.value.field, refused.value.status_code) == ("紧急事项由负责人接手。", "action", 400)
    # The actor's kind is judged first (403), the guard after it, the reason last.
    with pytest.raises(PermissionError_):
        machine.check(State.REPORTED, action=Act.TAKE, kinds={"stranger"}, current=urgent)
    assert machine.check(State.REPORTED, action=Act.TAKE, kinds={Who.BOSS}, current=urgent)[0].action == Act.TAKE
    assert machine.check(State.REPORTED, action=Act.TAKE, kinds={Who.CLERK})[0].action == Act.TAKE  # no row: no guard


def test_a_guard_must_say_its_condition():
    with pytest.raises(ValueError, match="guard_note"):
        Table(noun="事项", states=State, actions=Act, actors=Who, transitions=(
            transition(Act.TAKE, {State.REPORTED}, State.ACCEPTED, {Who.CLERK}, guard=_urgent_needs_the_boss),
        ))


def test_a_guard_refusal_in_act_changes_nothing(world, case):
    machine = Machine(table=GUARDED, model=Case, history_model=CaseTransition, history_fk="case")
    Case.objects.filter(pk=case.pk).update(urgency="urgent")
    before = _footprint(case)
    with pytest.raises(DomainError, match="紧急事项由负责人接手"):
        machine.act(_fresh(case), actor=world.worker, kinds={Who.CLERK}, action=Act.TAKE)
    assert _footprint(case) == before
    assert machine.act(_fresh(case), actor=world.leader, kinds={Who.BOSS}, action=Act.TAKE).state == State.ACCEPTED


# --- the guarded compare-and-set on a real row --------------------------------------------------


@pytest.fixture
def case(world):
    return case_services.case_create(actor=world.worker, source=Source.DOOR_VISIT, node=world.grid,
                                     building=world.building, title="楼道灯坏了", description="3单元楼道灯不亮。",
                                     reporter_name="陈阿姨", reporter_phone="13812345678")


def _footprint(case):
    row = Case.objects.filter(pk=case.pk).values("state", "version", "updated_at", "supervise_count").get()
    return row, CaseTransition.objects.filter(case=case).count(), AuditEvent.objects.count()


def _fresh(case):
    return Case.objects.get(pk=case.pk)


def test_every_step_writes_one_history_row_and_one_audit_event(world, case):
    steps: list = []
    machine = make_machine(steps)
    _, history_before, audit_before = _footprint(case)
    current = _fresh(case)
    taken = machine.act(current, actor=world.worker, kinds={Who.CLERK}, action=Act.TAKE)
    assert (taken.state, taken.version, taken.supervise_count) == (State.ACCEPTED, current.version + 1, 1)
    _, history_after, audit_after = _footprint(case)
    assert (history_after - history_before, audit_after - audit_before) == (1, 1)
    step = CaseTransition.objects.filter(case=case).latest("seq")
    assert (step.seq, step.action, step.from_state, step.to_state, step.actor, step.actor_repr, step.data) == (
        taken.version, "take", State.REPORTED, State.ACCEPTED, world.worker, "worker", {"who": "test"})
    event = AuditEvent.objects.latest("id")
    assert (event.action, event.object_type, event.object_id) == ("cases.case.take", "cases.case", str(case.pk))
    assert event.before == {"state": "reported", "supervise_count": 0}
    assert event.after == {"state": "accepted", "supervise_count": 1}
    assert len(steps) == 1 and steps[0][0] == case.pk
    assert isinstance(steps[0][1], Step) and steps[0][1].effect.data == {"who": "test"}
    # The after-hook sees the row as it was read before the step, and the row after it.
    assert (steps[0][1].before.state, steps[0][1].before.supervise_count) == (State.REPORTED, 0)
    assert (steps[0][1].source, steps[0][1].target, steps[0][1].actor) == (State.REPORTED, State.ACCEPTED, world.worker)

    # No target in the table: the state stays and the step is still recorded once.
    noted = machine.act(taken, actor=None, kinds={Who.CLERK}, action=Act.NOTE, params={"text": "已联系物业"})
    assert (noted.state, noted.version) == (State.ACCEPTED, taken.version + 1)
    assert CaseTransition.objects.filter(case=case).latest("seq").actor_repr == ""
    # The effect overrides the table's target.
    bounced = machine.act(noted, actor=world.worker, kinds={Who.CLERK}, action=Act.BOUNCE)
    assert bounced.state == State.REPORTED
    _, history_end, audit_end = _footprint(case)
    assert (history_end - history_before, audit_end - audit_before) == (3, 3)
    assert len(steps) == 3


@pytest.mark.parametrize("action, kinds, reason, params, error", [
    ("fly", {Who.BOSS}, "", {}, DomainError),                 # unknown action
    (Act.DROP, {Who.BOSS}, "理由", {}, DomainError),            # not from this state
    (Act.TAKE, {"stranger"}, "", {}, PermissionError_),        # no allowed actor kind
    (Act.NOTE, {Who.CLERK}, "", {}, DomainError),              # the effect refuses
])
def test_refusals_change_nothing(world, case, action, kinds, reason, params, error):
    steps: list = []
    machine = make_machine(steps)
    before = _footprint(case)
    with transaction.atomic():  # the caller's transaction stays usable after a refusal
        with pytest.raises(error):
            machine.act(_fresh(case), actor=world.worker, kinds=kinds, action=action, reason=reason, params=params)
        assert _footprint(case) == before
    assert _footprint(case) == before and steps == []


def test_needs_reason_is_enforced_and_then_recorded(world, case):
    machine = make_machine()
    accepted = machine.act(_fresh(case), actor=world.worker, kinds={Who.CLERK}, action=Act.TAKE)
    before = _footprint(case)
    with pytest.raises(DomainError) as missing:
        machine.act(accepted, actor=world.leader, kinds={Who.BOSS}, action=Act.DROP, reason=" ")
    assert missing.value.field == "reason" and _footprint(case) == before
    dropped = machine.act(accepted, actor=world.leader, kinds={Who.BOSS}, action=Act.DROP, reason="重复反映")
    assert dropped.state == State.REJECTED
    assert CaseTransition.objects.filter(case=case).latest("seq").reason == "重复反映"
    assert AuditEvent.objects.latest("id").reason == "重复反映"


def test_a_concurrent_version_bump_makes_the_compare_and_set_lose(world, case):
    steps: list = []
    machine = make_machine(steps)
    current = _fresh(case)  # what this request read
    Case.objects.filter(pk=case.pk).update(version=F("version") + 1)  # another request committed meanwhile
    before = _footprint(case)
    with pytest.raises(ConflictError) as lost:
        machine.act(current, actor=world.worker, kinds={Who.CLERK}, action=Act.TAKE)
    assert (lost.value.message, lost.value.field, lost.value.status_code) == (
        "该事项刚被他人处理，请刷新后重试。", "action", 409)
    assert _footprint(case) == before and steps == []
    # Read again, the same step goes through.
    assert machine.act(_fresh(case), actor=world.worker, kinds={Who.CLERK}, action=Act.TAKE).state == State.ACCEPTED


def test_a_failing_after_hook_leaves_nothing_behind(world, case):
    def fail(case, step):
        raise RuntimeError("rollup unavailable")

    machine = Machine(table=TABLE, model=Case, history_model=CaseTransition, history_fk="case", after=fail)
    before = _footprint(case)
    with pytest.raises(RuntimeError), transaction.atomic():
        machine.act(_fresh(case), actor=world.worker, kinds={Who.CLERK}, action=Act.TAKE)
    assert _footprint(case) == before


def test_the_case_table_runs_on_the_same_machine(world, case):
    assert case_services.CASE_MACHINE.table is CASE_TABLE
    before = _footprint(case)
    accepted = case_services.case_act(actor=world.secretary, case=case, action=CaseAction.ACCEPT)
    after = _footprint(accepted)
    assert accepted.state == State.ACCEPTED and (after[1] - before[1], after[2] - before[2]) == (1, 1)
    with pytest.raises(PermissionError_) as forbidden:
        case_services.case_act(actor=world.worker, case=accepted, action=CaseAction.DISPATCH)
    assert forbidden.value.message == "您不能对该事项执行“派遣”。"
    assert _footprint(accepted) == after
