"""The hazard workflow in one place: states × actions → next state, who may act, on what condition.

    open 待整改 ──start──> rectifying 整改中 ──submit──> awaiting 待复查 ──reinspect_pass──> closed 已销号
        │                      ▲                            │
        └──────submit──────────┼────────────────────────────┘ (submit straight from 待整改 too)
                               └────── reinspect_fail ──────┘ (复查不通过, counted in rework_count)

    extend 延期 (new deadline) and escalate 移交执法 (an overdue or major hazard becomes a case
    of the case workflow, linked back on the hazard) leave the state as it is; cancel 撤销 (a
    hazard recorded in error) ends it.

Rectification follows 五定 (measures, responsible person, deadline); a major hazard (重大隐患) is
under 挂牌督办 until re-inspected, and only community staff, a leader or an administrator may
pass its re-inspection. The only code that changes a hazard's state is
`jiedao.safety.services.hazard_act`, which applies this table through the core workflow machine:
compare-and-set on (state, version), one HazardTransition row and one audit event per step.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jiedao.core.workflow import Table, Transition
from jiedao.core.workflow import transition as _t
from jiedao.safety.models import HazardState, Severity


class HazardAction(models.TextChoices):
    START = "start", _("开始整改")
    SUBMIT = "submit", _("提交整改")
    REINSPECT_PASS = "reinspect_pass", _("复查通过")
    REINSPECT_FAIL = "reinspect_fail", _("复查不通过")
    EXTEND = "extend", _("延期")
    ESCALATE = "escalate", _("移交执法")
    CANCEL = "cancel", _("撤销")


class HazardActor(models.TextChoices):
    """How a user relates to a hazard (computed by jiedao.safety.services.hazard_actor_kinds)."""

    INSPECTOR = "inspector", _("网格员/网格长（检查人）")
    COMMUNITY = "community", _("社区（村）书记/工作人员")
    LEADER = "leader", _("街道领导")
    ADMIN = "admin", _("系统管理员")


S, A, R = HazardState, HazardAction, HazardActor
OPEN = frozenset({S.OPEN, S.RECTIFYING, S.AWAITING})


def _major_needs_supervisor(hazard: Any, actor: Any, kinds: Any) -> str | None:
    if hazard.severity == Severity.MAJOR and actor is not None and not kinds & {R.COMMUNITY, R.LEADER, R.ADMIN}:
        return gettext("重大隐患挂牌督办，须由社区（村）、街道领导或管理员复查销号。")
    return None


def _escalatable(hazard: Any, actor: Any, kinds: Any) -> str | None:
    if hazard.case_id:
        return gettext("该隐患已移交执法，不能重复移交。")
    if hazard.severity != Severity.MAJOR and not (hazard.state in (S.OPEN, S.RECTIFYING)
                                                  and hazard.deadline_at < timezone.now()):
        return gettext("只有逾期未整改或重大隐患才能移交执法。")
    return None


TABLE = Table(noun=_("隐患"), states=HazardState, actions=HazardAction, actors=HazardActor, transitions=(
    _t(A.START, {S.OPEN}, S.RECTIFYING, {R.INSPECTOR, R.COMMUNITY, R.ADMIN},
       note="企业落实“五定”：整改措施、责任人、期限；可补填整改措施和企业责任人"),
    _t(A.SUBMIT, {S.OPEN, S.RECTIFYING}, S.AWAITING, {R.INSPECTOR, R.COMMUNITY, R.ADMIN}, needs_reason=True,
       note="登记整改情况（整改完成时间记为此刻，按期整改以此判断）"),
    _t(A.REINSPECT_PASS, {S.AWAITING}, S.CLOSED, {R.INSPECTOR, R.COMMUNITY, R.ADMIN},
       guard=_major_needs_supervisor, guard_note="重大隐患须由社区（村）、街道领导或管理员复查",
       note="现场复查合格，销号"),
    _t(A.REINSPECT_FAIL, {S.AWAITING}, S.RECTIFYING, {R.INSPECTOR, R.COMMUNITY, R.ADMIN}, needs_reason=True,
       note="复查不合格，退回整改（计入复查不通过次数），期限不变"),
    _t(A.EXTEND, {S.OPEN, S.RECTIFYING}, None, {R.COMMUNITY, R.LEADER, R.ADMIN}, needs_reason=True,
       note="延期：从今天起重新计算整改期限（工作日）"),
    _t(A.ESCALATE, OPEN, None, {R.COMMUNITY, R.LEADER, R.ADMIN}, needs_reason=True,
       guard=_escalatable, guard_note="逾期未整改或重大隐患，且尚未移交",
       note="移交 1+3+N 联动执法：生成一件诉求事件（来源：巡查），隐患记下事项编号，继续跟踪整改"),
    _t(A.CANCEL, OPEN, S.CANCELLED, {R.LEADER, R.ADMIN}, needs_reason=True, note="误报撤销，不计入隐患数"),
))

TRANSITIONS: tuple[Transition, ...] = TABLE.transitions
find = TABLE.find
allowed_actions = TABLE.allowed_actions
table_rows = TABLE.rows
