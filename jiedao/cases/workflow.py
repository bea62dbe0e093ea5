"""The case workflow in one place: states × actions → next state, and who may act.

    reported ──accept──> accepted ──dispatch──> dispatched ──acknowledge──> acknowledged
        │                  │  ▲                    │   return ─┐             │ handle
        └─reject─> rejected│  └──── return/escalate ┴───────────┘             ▼
                           │                                              in_progress
                           └── resolve (私事: guidance) ─┐                    │ resolve
                                                        ▼                    ▼
          closed <──close── verified <──verify(pass)── resolved ──verify(fail)──> in_progress (返工)
            │                  │ follow_up(not solved / unsatisfied) ──> in_progress (重办)
            └──reopen──> accepted (重办)

`TABLE` is the whole table, declared with the generic types of jiedao.core.workflow. The only
code that changes a case's state is `jiedao.cases.services.case_act`, which applies this table
through the core workflow machine (`services.CASE_MACHINE` adds each action's effects). It
updates with compare-and-set on (state, version), so of two people acting on the same case at
once exactly one wins; the loser gets a ConflictError and nothing changes. Every transition
appends a CaseTransition row and an audit event in the same transaction.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from jiedao.cases.models import State
from jiedao.core.workflow import Table, Transition
from jiedao.core.workflow import transition as _t


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


TABLE = Table(noun=_("事项"), states=State, actions=Action, actors=Actor, transitions=(
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
       note="回访：是否及时联系、是否解决、是否满意；未解决或不满意退回重办（计入重办）"),
    _t(A.CLOSE, {S.VERIFIED}, S.CLOSED, {R.COMMUNITY, R.ADMIN}, note="结案销号"),
    _t(A.REOPEN, {S.CLOSED, S.REJECTED}, S.ACCEPTED, {R.COMMUNITY, R.LEADER, R.ADMIN}, needs_reason=True,
       note="重办"),
    _t(A.MERGE, {S.REPORTED, S.ACCEPTED}, S.CLOSED, {R.COMMUNITY, R.GRID, R.ADMIN}, note="并入另一件重复事项"),
))


TRANSITIONS: tuple[Transition, ...] = TABLE.transitions

# The table's questions, under the names the rest of cases uses.
find = TABLE.find  # (action, state) -> the row, or None
allowed_actions = TABLE.allowed_actions  # (state, actor kinds) -> actions, in table order
table_rows = TABLE.rows  # the table as plain rows, for GET /cases/workflow and the tests
