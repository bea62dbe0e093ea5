"""The case workflow in one place: states × actions → next state, and who may act.

    reported ──accept──> accepted ──dispatch──> dispatched ──acknowledge──> acknowledged
        │                  │  ▲                    │   return ─┐             │ handle
        └─reject─> rejected│  └──── return/escalate ┴───────────┘             ▼
                           │                                              in_progress
                           └── resolve (私事: guidance) ─┐                    │ resolve
                                                        ▼                    ▼
          closed <──close── verified <──verify(pass)── resolved ──verify(fail)──> in_progress (返工)
            │                  │ follow_up(unsatisfied) ──> in_progress (重办)
            └──reopen──> accepted (重办)

`TRANSITIONS` is the whole table; `apply_transition` is the only code that changes a case's
state. It updates with compare-and-set on (state, version), so of two people acting on the
same case at once exactly one wins; the loser gets a ConflictError and nothing changes.
Every transition appends a CaseTransition row and an audit event in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from jiedao.cases.models import State


class Action(models.TextChoices):
    ACCEPT = "accept", _("受理")
    REJECT = "reject", _("不予受理")
    TIER = "tier", _("分流")
    DISPATCH = "dispatch", _("派遣")
    ACKNOWLEDGE = "acknowledge", _("签收")
    RETURN = "return", _("退回")
    HANDLE = "handle", _("办理")
    ESCALATE = "escalate", _("上报")
    SUPERVISE = "supervise", _("督办")
    RESOLVE = "resolve", _("办结")
    VERIFY_PASS = "verify_pass", _("核查通过")
    VERIFY_FAIL = "verify_fail", _("核查不通过")
    FOLLOW_UP = "follow_up", _("回访评价")
    CLOSE = "close", _("结案销号")
    REOPEN = "reopen", _("重办")
    MERGE = "merge", _("合并")


class Actor(models.TextChoices):
    """How a user relates to a case (computed by jiedao.cases.services.actor_kinds)."""

    GRID = "grid", _("网格员/网格长")
    COMMUNITY = "community", _("社区（村）书记/工作人员")
    HANDLER = "handler", _("承办人")
    LEADER = "leader", _("街道领导")
    ADMIN = "admin", _("系统管理员")
    RESIDENT = "resident", _("反映人（凭查询码）")


S, A, R = State, Action, Actor
_OPEN = frozenset({S.DISPATCHED, S.ACKNOWLEDGED, S.IN_PROGRESS})


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str | None  # None: the state does not change (tier, supervise, follow-up that passes)
    actors: frozenset[str]
    needs_reason: bool = False
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _t(action, sources, target, actors, needs_reason=False, note=""):
    return Transition(action, frozenset(sources), target, frozenset(actors), needs_reason, note)


TRANSITIONS: tuple[Transition, ...] = (
    _t(A.ACCEPT, {S.REPORTED}, S.ACCEPTED, {R.COMMUNITY, R.GRID, R.ADMIN}, note="立案"),
    _t(A.REJECT, {S.REPORTED}, S.REJECTED, {R.COMMUNITY, R.ADMIN}, needs_reason=True, note="说明不予受理的理由"),
    _t(A.TIER, {S.REPORTED, S.ACCEPTED}, None, {R.COMMUNITY, R.ADMIN}, note="三事分流：大事/小事/私事"),
    _t(A.DISPATCH, {S.ACCEPTED}, S.DISPATCHED, {R.COMMUNITY, R.LEADER, R.ADMIN},
       note="大事派部门或联合执法队，小事派社区；计时从派遣开始"),
    _t(A.ACKNOWLEDGE, {S.DISPATCHED}, S.ACKNOWLEDGED, {R.HANDLER}, note="承办人签收"),
    _t(A.RETURN, {S.DISPATCHED, S.ACKNOWLEDGED}, S.ACCEPTED, {R.HANDLER}, needs_reason=True,
       note="非本单位职责，退回重新派遣（计入回退）"),
    _t(A.HANDLE, {S.ACKNOWLEDGED, S.IN_PROGRESS}, S.IN_PROGRESS, {R.HANDLER}, note="开始办理或记录进展"),
    _t(A.ESCALATE, {S.ACCEPTED} | _OPEN, S.ACCEPTED, {R.HANDLER, R.COMMUNITY, R.ADMIN}, needs_reason=True,
       note="调处层级上升一级，重新派遣"),
    _t(A.SUPERVISE, {S.ACCEPTED} | _OPEN, None, {R.LEADER, R.COMMUNITY, R.ADMIN}, needs_reason=True, note="督办"),
    _t(A.RESOLVE, {S.ACKNOWLEDGED, S.IN_PROGRESS}, S.RESOLVED, {R.HANDLER}, needs_reason=True, note="填写办理结果"),
    _t(A.RESOLVE, {S.ACCEPTED}, S.RESOLVED, {R.COMMUNITY, R.GRID}, needs_reason=True,
       note="私事：给予引导意见或转志愿者后办结"),
    _t(A.VERIFY_PASS, {S.RESOLVED}, S.VERIFIED, {R.GRID, R.COMMUNITY}, note="现场核查通过"),
    _t(A.VERIFY_FAIL, {S.RESOLVED}, S.IN_PROGRESS, {R.GRID, R.COMMUNITY}, needs_reason=True, note="返工（计入返工次数）"),
    _t(A.FOLLOW_UP, {S.RESOLVED, S.VERIFIED}, None, {R.COMMUNITY, R.GRID, R.RESIDENT},
       note="回访评价；“不满意”退回重办（计入重办）"),
    _t(A.CLOSE, {S.VERIFIED}, S.CLOSED, {R.COMMUNITY, R.ADMIN}, note="结案销号"),
    _t(A.REOPEN, {S.CLOSED, S.REJECTED}, S.ACCEPTED, {R.COMMUNITY, R.LEADER, R.ADMIN}, needs_reason=True,
       note="重办"),
    _t(A.MERGE, {S.REPORTED, S.ACCEPTED}, S.CLOSED, {R.COMMUNITY, R.GRID, R.ADMIN}, note="并入另一件重复事项"),
)


def find(action: str, state: str) -> Transition | None:
    """The row of the table for this action from this state, or None if the table has none."""
    for transition in TRANSITIONS:
        if transition.action == action and state in transition.sources:
            return transition
    return None


def allowed_actions(state: str, kinds: set[str]) -> list[str]:
    """Actions the user (with these actor kinds) may take on a case in `state`, in table order."""
    seen: list[str] = []
    for transition in TRANSITIONS:
        if state in transition.sources and transition.actors & kinds and transition.action not in seen:
            seen.append(transition.action)
    return seen


def table_rows() -> list[dict[str, Any]]:
    """The table as rows, for the documentation page and the tests."""
    return [
        {
            "action": t.action, "action_label": Action(t.action).label,
            "from": sorted(t.sources), "to": t.target,
            "actors": sorted(t.actors), "needs_reason": t.needs_reason, "note": t.note,
        }
        for t in TRANSITIONS
    ]

