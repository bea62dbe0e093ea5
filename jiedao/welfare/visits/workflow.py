"""The two small workflows of the veterans' service, each one visible table on jiedao.core.workflow.

Service requests (求助 / 诉求):

    registered 已登记 ──start──> in_progress 办理中 ──finish──> done 已办结
        └───────────────finish──────────────────────┘   done ──reopen──> in_progress

优待证 applications:

    applied 已申请 ──approve──> reviewed 已审核 ──make──> made 已制证 ──issue──> issued 已发放
        └──reject──> rejected 未通过 (with the reason)

Who may act is decided by the user's grants at the veteran's place (services.actor_kinds): a grid
worker (RECORD_WELFARE) registers requests and applications; community staff, the secretary, a
leader or an administrator (MANAGE_WELFARE) move them. The only code that changes a state is
services.request_act / services.card_act: compare-and-set on (state, version), one history row and
one audit event per step.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from jiedao.core.workflow import Table
from jiedao.core.workflow import transition as _t
from jiedao.welfare.models.visits import CardState, RequestState


class WelfareActor(models.TextChoices):
    """How a user relates to a veteran's request or application (services.actor_kinds)."""

    VISITOR = "visitor", _("网格员（走访登记）")
    MANAGER = "manager", _("社区（村）、街道民政工作人员")


class RequestAction(models.TextChoices):
    START = "start", _("开始办理")
    FINISH = "finish", _("办结")
    REOPEN = "reopen", _("重新办理")


class CardAction(models.TextChoices):
    APPROVE = "approve", _("审核通过")
    REJECT = "reject", _("审核不通过")
    MAKE = "make", _("制证")
    ISSUE = "issue", _("发放")


S, A, R = RequestState, RequestAction, WelfareActor

REQUEST_TABLE = Table(noun=_("诉求"), states=RequestState, actions=RequestAction, actors=WelfareActor, transitions=(
    _t(A.START, {S.REGISTERED}, S.IN_PROGRESS, {R.MANAGER}, note="受理并开始办理"),
    _t(A.FINISH, {S.REGISTERED, S.IN_PROGRESS}, S.DONE, {R.MANAGER}, needs_reason=True,
       note="填写办理结果后办结（办结时间记为此刻）"),
    _t(A.REOPEN, {S.DONE}, S.IN_PROGRESS, {R.MANAGER}, needs_reason=True, note="对象不满意或问题复发，重新办理"),
))

C, CA = CardState, CardAction

CARD_TABLE = Table(noun=_("优待证申请"), states=CardState, actions=CardAction, actors=WelfareActor, transitions=(
    _t(CA.APPROVE, {C.APPLIED}, C.REVIEWED, {R.MANAGER}, note="核对身份和优抚类别，审核通过"),
    _t(CA.REJECT, {C.APPLIED}, C.REJECTED, {R.MANAGER}, needs_reason=True, note="不符合条件，说明原因"),
    _t(CA.MAKE, {C.REVIEWED}, C.MADE, {R.MANAGER}, note="制证：填写优待证号"),
    _t(CA.ISSUE, {C.MADE}, C.ISSUED, {R.MANAGER}, note="发放到本人：发放日期记为今天，优抚对象的优待证状态改为已发放"),
))
