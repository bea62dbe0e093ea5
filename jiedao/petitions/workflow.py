"""The petition workflow in one place: states × actions → next state, who may act, on what condition.

    registered 已登记 ──accept──> handling 办理中 ──reply──> replied 已答复 ──conclude──> closed 已终结
        │                          (extend: +≤30 days)        │ request_review (≤30 days after the reply)
        └──reject──> rejected 不予受理                         ▼
                                                         reviewing 复查中 ──decide_review──> reviewed 已复查
                                                                                             │ │ conclude
                                  closed 已终结 <──decide_recheck── rechecking 复核中 <──────┘ request_recheck
                                                                                               (≤30 days)

Time limits (《信访工作条例》 2022, arts. 22, 32, 35, 36 — calendar days, see docs/petitions-workflow.md):
受理 decided within 15 days of receipt; 办结 within 60 days of acceptance counted from the next day;
one extension of at most 30 days with a leader's approval, the reason told to the petitioner, asked
no later than the 办结 limit's last day;
复查 asked within 30 days of the reply and decided within 30; 复核 likewise. 复核 is final.
复查 and 复核 are decided by the sub-district (leader or admin), never by the community that replied.

The only code that changes a petition's state is `jiedao.petitions.services.petition_act`, which
applies this table through the core workflow machine: compare-and-set on (state, version), one
PetitionTransition row and one audit event per step.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jiedao.core.workflow import Table, Transition
from jiedao.core.workflow import transition as _t
from jiedao.petitions.models import PetitionState

ACCEPT_DAYS = 15  # 受理: decided within 15 days of receipt (art. 22)
CONCLUDE_DAYS = 60  # 办结: within 60 days of acceptance, from the next day (art. 32)
EXTEND_MAX_DAYS = 30  # extension: at most 30 days, once, a leader approving (art. 32)
REQUEST_DAYS = 30  # 复查 / 复核 asked within 30 days of the reply / the review (arts. 35, 36)
DECIDE_DAYS = 30  # 复查 / 复核 decided within 30 days of the request


class PetitionAction(models.TextChoices):
    ACCEPT = "accept", _("受理")
    REJECT = "reject", _("不予受理")
    EXTEND = "extend", _("延期")
    REPLY = "reply", _("答复")
    REQUEST_REVIEW = "request_review", _("申请复查")
    DECIDE_REVIEW = "decide_review", _("复查意见")
    REQUEST_RECHECK = "request_recheck", _("申请复核")
    DECIDE_RECHECK = "decide_recheck", _("复核意见")
    CONCLUDE = "conclude", _("办结终结")


class PetitionActor(models.TextChoices):
    """How a user relates to a petition (computed by jiedao.petitions.services.petition_actor_kinds)."""

    HANDLER = "handler", _("社区（村）工作人员")
    MANAGER = "manager", _("社区（村）书记")
    LEADER = "leader", _("街道领导")
    ADMIN = "admin", _("系统管理员")


S, A, R = PetitionState, PetitionAction, PetitionActor
DECIDERS = frozenset({R.MANAGER, R.LEADER, R.ADMIN})
# 复查 and 复核 belong to the level above the one that replied (条例 arts. 35–36): the community that
# handled the petition may not decide on a request against its own reply.
UPPER = frozenset({R.LEADER, R.ADMIN})
EVERYONE = frozenset({R.HANDLER, R.MANAGER, R.LEADER, R.ADMIN})


def _today() -> Any:
    return timezone.localdate()


def _not_extended(petition: Any, actor: Any, kinds: Any) -> str | None:
    if petition.extended_days:
        return gettext("办理期限已延期一次，不能再延期。")
    return None


def _extendable(petition: Any, actor: Any, kinds: Any) -> str | None:
    refusal = _not_extended(petition, actor, kinds)
    if refusal:
        return refusal
    if petition.conclude_due and _today() > petition.conclude_due:
        return gettext("办理期限已过，不能延期。")
    return None


def _review_window(petition: Any, actor: Any, kinds: Any) -> str | None:
    if petition.review_until and _today() > petition.review_until:
        return gettext("答复之日起30日内未申请复查，已过申请期限。")
    return None


def _recheck_window(petition: Any, actor: Any, kinds: Any) -> str | None:
    if petition.recheck_until and _today() > petition.recheck_until:
        return gettext("复查意见之日起30日内未申请复核，已过申请期限。")
    return None


TABLE = Table(noun=_("信访件"), states=PetitionState, actions=PetitionAction, actors=PetitionActor, transitions=(
    _t(A.ACCEPT, {S.REGISTERED}, S.HANDLING, DECIDERS,
       note="受理并告知信访人（收到之日起15日内）；办结期限为受理次日起第60日；可指定责任单位"),
    _t(A.REJECT, {S.REGISTERED}, S.REJECTED, DECIDERS, needs_reason=True,
       note="不予受理，书面告知信访人理由（如应通过诉讼、仲裁等法定途径解决）"),
    _t(A.EXTEND, {S.HANDLING}, None, {R.LEADER, R.ADMIN}, needs_reason=True,
       guard=_extendable, guard_note="尚未延期，且办结期限未过（期限当日仍可延期）",
       note="情况复杂的，经街道领导批准延长办理期限，最多30日，延期理由告知信访人"),
    _t(A.REPLY, {S.HANDLING}, S.REPLIED, EVERYONE, needs_reason=True,
       note="出具书面处理意见并送达信访人（办结，按期办结以此日期判断）"),
    _t(A.REQUEST_REVIEW, {S.REPLIED}, S.REVIEWING, EVERYONE,
       guard=_review_window, guard_note="答复之日起30日内",
       note="信访人不服处理意见，请求复查；复查期限为收到请求之日起30日"),
    _t(A.DECIDE_REVIEW, {S.REVIEWING}, S.REVIEWED, UPPER, needs_reason=True,
       note="由上一级（街道）出具复查意见，作出答复的社区（村）不复查自己的答复"),
    _t(A.REQUEST_RECHECK, {S.REVIEWED}, S.RECHECKING, EVERYONE,
       guard=_recheck_window, guard_note="复查意见之日起30日内",
       note="信访人不服复查意见，请求复核；复核期限为收到请求之日起30日"),
    _t(A.DECIDE_RECHECK, {S.RECHECKING}, S.CLOSED, UPPER, needs_reason=True,
       note="登记复核意见；复核意见为最终意见，同一事项不再受理"),
    _t(A.CONCLUDE, {S.REPLIED, S.REVIEWED}, S.CLOSED, EVERYONE, needs_reason=True,
       note="信访人认可处理（复查）意见，或期满未申请复查（复核），终结"),
))

TRANSITIONS: tuple[Transition, ...] = TABLE.transitions
find = TABLE.find
allowed_actions = TABLE.allowed_actions
table_rows = TABLE.rows
