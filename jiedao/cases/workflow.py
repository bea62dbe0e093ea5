"""The case workflow in one place: states × actions → next state, who may act, and on what condition.

    reported ──accept──> accepted ──dispatch──> dispatched ──acknowledge──> acknowledged
        │                  │  ▲                    │   return ─┐             │ handle
        └─reject─> rejected│  └──── return/escalate ┴───────────┘             ▼  (defer: new deadline)
                           │                                              in_progress
                           ├── resolve (私事 only: guidance) ─┐                │ resolve
                           │                                  ▼                ▼
                           │          closed <──close── verified <──verify(pass)── resolved
                           │            │                        verify(fail) / follow-up not solved or unsatisfied:
                           │            └──reopen──> accepted      back to in_progress (its handling unit),
                           │                                      or to accepted when it has none
                           └── level 3 (联席会议) ──hand_over──> with_district ──district_reply──> resolved
                                                                              (returned) ──> accepted (level 4)

三级调处: escalate raises the level 1 村社 → 2 街道科室 → 3 联席会议 (a 小事 escalated to the
departments becomes a 大事); a level-3 case waits in 已受理 for the sub-district's joint meeting,
whose decision a leader carries out by dispatching it to the lead department, or for a leader to
hand it over to the district (level 4: 区级办理中 until the district's reply is recorded).

`TABLE` is the whole table, declared with the generic types of jiedao.core.workflow. A row's guard
is a condition on the case (and the actor) beyond its state: the machine refuses the action with
the guard's message, and `allowed_actions(..., current=case, actor=user)` leaves it out, so no
page or API answer offers an action that cannot succeed. The only code that changes a case's
state is `jiedao.cases.services.case_act`, which applies this table through the core workflow
machine (`services.CASE_MACHINE` adds each action's effects). It updates with compare-and-set on
(state, version), so of two people acting on the same case at once exactly one wins; the loser
gets a ConflictError and nothing changes. Every transition appends a CaseTransition row and an
audit event in the same transaction.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jiedao.cases.models import CaseTransition, Level, State, Tier
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
    DEFER = "defer", _("缓办")
    HAND_OVER = "hand_over", _("移交区级")
    DISTRICT_REPLY = "district_reply", _("区级反馈")


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
# Actions that record a resolution (the one that stands is the latest of them).
RESOLVING = (A.RESOLVE, A.DISTRICT_REPLY)


# --- guards: (case, actor or None, actor kinds) -> None, or why not ---------------------------


def standing_resolver_id(case: Any) -> int | None:
    """The user who made the resolution that stands (the latest step into 已办结); None when the
    district resolved it, or nobody has."""
    step = (CaseTransition.objects.filter(case_id=case.pk, action__in=RESOLVING, to_state=State.RESOLVED)
            .order_by("-seq").values_list("action", "actor_id").first())
    if step is None or step[0] != A.RESOLVE:
        return None
    return step[1]


def _private_only(case: Any, actor: Any, kinds: Any) -> str | None:
    if case.tier != Tier.PRIVATE:
        return gettext("只有私事可以在受理后直接办结（给出引导意见）；大事、小事请先派遣，由承办单位办理后办结。")
    return None


def _dispatchable(case: Any, actor: Any, kinds: Any) -> str | None:
    if not case.tier:
        return gettext("请先分流（大事、小事或私事）再派遣。")
    if case.tier == Tier.PRIVATE:
        return gettext("私事不派遣：请给出引导意见后直接办结。")
    if case.level >= Level.JOINT_MEETING and not kinds & {R.LEADER, R.ADMIN}:
        return gettext("联席会议层级及以上的事项由街道领导派遣（按联席会议确定的牵头单位）。")
    return None


def _below_joint_meeting(case: Any, actor: Any, kinds: Any) -> str | None:
    if case.tier == Tier.PRIVATE:
        return gettext("私事不上报：请给出引导意见后办结；如需部门办理，请先将分流改为大事。")
    if case.level == Level.JOINT_MEETING:
        return gettext("已上报至联席会议，不能再上报；联席会议协调不成的，由街道领导移交区级。")
    if case.level > Level.JOINT_MEETING:
        return gettext("区级已将事项交回街道办理，不能再上报；请由街道领导派遣承办部门。")
    return None


def _at_joint_meeting(case: Any, actor: Any, kinds: Any) -> str | None:
    if case.level != Level.JOINT_MEETING:
        return gettext("只有上报至联席会议（第三级）、协调不成的事项才能移交区级。")
    return None


def _independent_verifier(case: Any, actor: Any, kinds: Any) -> str | None:
    from jiedao.cases.policy import policy_for

    if actor is None or not policy_for(case.subdistrict_id).separate_verifier:
        return None
    if standing_resolver_id(case) == actor.pk:
        return gettext("按本街道办件规则，办结人不能核查自己办结的事项，请由网格员或社区其他人员核查。")
    return None


def _not_merged(case: Any, actor: Any, kinds: Any) -> str | None:
    if case.merged_into_id:
        return gettext("该事项已并入另一件事项，请对主事项重办。")
    return None


_VERIFIER = "办结人以外的人（街道办件规则“办结人不得核查”开启时，默认开启）"

TABLE = Table(noun=_("事项"), states=State, actions=Action, actors=Actor, transitions=(
    _t(A.ACCEPT, {S.REPORTED}, S.ACCEPTED, {R.COMMUNITY, R.GRID, R.ADMIN}, note="立案"),
    _t(A.REJECT, {S.REPORTED}, S.REJECTED, {R.COMMUNITY, R.ADMIN}, needs_reason=True, note="说明不予受理的理由"),
    _t(A.TIER, {S.REPORTED, S.ACCEPTED}, None, {R.COMMUNITY, R.ADMIN}, note="三事分流：大事/小事/私事"),
    _t(A.DISPATCH, {S.ACCEPTED}, S.DISPATCHED, {R.COMMUNITY, R.LEADER, R.ADMIN},
       guard=_dispatchable, guard_note="已分流为大事或小事；联席会议（第三级）及以上只由街道领导派遣",
       note="大事派街道科室或联合执法队，小事由本社区办理；计时从派遣开始"),
    _t(A.ACKNOWLEDGE, {S.DISPATCHED}, S.ACKNOWLEDGED, {R.HANDLER}, note="承办人签收"),
    _t(A.RETURN, {S.DISPATCHED, S.ACKNOWLEDGED}, S.ACCEPTED, {R.HANDLER}, needs_reason=True,
       note="非本单位职责，退回重新派遣（计入回退）"),
    _t(A.HANDLE, {S.ACKNOWLEDGED, S.IN_PROGRESS}, S.IN_PROGRESS, {R.HANDLER}, note="开始办理或记录进展"),
    _t(A.ESCALATE, {S.ACCEPTED} | _OPEN, S.ACCEPTED, {R.HANDLER, R.COMMUNITY, R.ADMIN}, needs_reason=True,
       guard=_below_joint_meeting, guard_note="调处层级低于联席会议（第三级）；私事不上报",
       note="三级调处：村社 → 街道科室（小事改为大事）→ 联席会议（列为疑难，等待联席会议确定牵头单位）"),
    _t(A.SUPERVISE, {S.ACCEPTED} | _OPEN, None, {R.LEADER, R.COMMUNITY, R.ADMIN}, needs_reason=True, note="督办"),
    _t(A.DEFER, _OPEN, None, {R.LEADER, R.ADMIN}, needs_reason=True,
       note="缓办：批准新的办理期限（当日下班时间），缓办事项不计入按期办结的考核"),
    _t(A.RESOLVE, {S.ACKNOWLEDGED, S.IN_PROGRESS}, S.RESOLVED, {R.HANDLER}, needs_reason=True, note="填写办理结果"),
    _t(A.RESOLVE, {S.ACCEPTED}, S.RESOLVED, {R.COMMUNITY, R.GRID}, needs_reason=True,
       guard=_private_only, guard_note="私事",
       note="私事：给予引导意见或转志愿者后办结"),
    _t(A.HAND_OVER, {S.ACCEPTED}, S.WITH_DISTRICT, {R.LEADER, R.ADMIN}, needs_reason=True,
       guard=_at_joint_meeting, guard_note="调处层级为联席会议（第三级）",
       note="联席会议协调不成，移交区级：填写区级受理编号和移交日期，层级升为区级"),
    _t(A.DISTRICT_REPLY, {S.WITH_DISTRICT}, S.RESOLVED, {R.LEADER, R.ADMIN},
       note="登记区级答复：区级已办结 → 已办结（化解层级：区级），随后照常核查、回访、结案；"
            "区级退回 → 已受理，由街道领导重新派遣"),
    _t(A.VERIFY_PASS, {S.RESOLVED}, S.VERIFIED, {R.GRID, R.COMMUNITY},
       guard=_independent_verifier, guard_note=_VERIFIER, note="现场核查通过"),
    _t(A.VERIFY_FAIL, {S.RESOLVED}, S.IN_PROGRESS, {R.GRID, R.COMMUNITY}, needs_reason=True,
       guard=_independent_verifier, guard_note=_VERIFIER,
       note="返工（计入返工次数）：回到承办单位办理中；没有承办单位的（私事、区级办结）回到已受理"),
    _t(A.FOLLOW_UP, {S.RESOLVED, S.VERIFIED}, None, {R.COMMUNITY, R.GRID, R.RESIDENT},
       note="回访：是否及时联系、是否解决、是否满意；未解决或不满意退回重办（计入重办），去向同核查不通过"),
    _t(A.CLOSE, {S.VERIFIED}, S.CLOSED, {R.COMMUNITY, R.ADMIN}, note="结案销号"),
    _t(A.REOPEN, {S.CLOSED, S.REJECTED}, S.ACCEPTED, {R.COMMUNITY, R.LEADER, R.ADMIN}, needs_reason=True,
       guard=_not_merged, guard_note="未并入其他事项", note="重办"),
    _t(A.MERGE, {S.REPORTED, S.ACCEPTED}, S.CLOSED, {R.COMMUNITY, R.GRID, R.ADMIN}, note="并入另一件重复事项"),
))


TRANSITIONS: tuple[Transition, ...] = TABLE.transitions

# The table's questions, under the names the rest of cases uses.
find = TABLE.find  # (action, state) -> the row, or None
allowed_actions = TABLE.allowed_actions  # (state, actor kinds[, current=case, actor=user]) -> actions, in table order
table_rows = TABLE.rows  # the table as plain rows, for GET /cases/workflow and the tests
