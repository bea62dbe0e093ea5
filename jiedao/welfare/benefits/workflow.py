"""The grant workflow in one place: states × actions → next state, who may act.

    active 在保 ──suspend──> suspended 暂停 ──resume──> active 在保
       │                        │
       └──────── end ───────────┴──> ended 停发/退出

    review 复核 (in 在保 or 暂停) leaves the state as it is: it records the review and moves the
    next review date on by the programme's review interval (or to the date given).

Only `jiedao.welfare.benefits.services.grant_act` changes a grant's state: it applies this table
through the core workflow machine (compare-and-set on state and version, one GrantTransition
row and one audit event per step). The actor is whoever holds MANAGE_WELFARE over the grant's
place: the community secretary and staff, the sub-district leader, the administrator.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from jiedao.core.workflow import Table, Transition
from jiedao.core.workflow import transition as _t
from jiedao.welfare.models.benefits import GrantState


class GrantAction(models.TextChoices):
    SUSPEND = "suspend", _("暂停发放")
    RESUME = "resume", _("恢复发放")
    END = "end", _("停发/退出")
    REVIEW = "review", _("复核")


class GrantActor(models.TextChoices):
    MANAGER = "manager", _("民政经办（社区书记/工作人员、街道领导、管理员）")


S, A, R = GrantState, GrantAction, GrantActor

TABLE = Table(noun=_("救助补贴资格"), states=GrantState, actions=GrantAction, actors=GrantActor, transitions=(
    _t(A.SUSPEND, {S.ACTIVE}, S.SUSPENDED, {R.MANAGER}, needs_reason=True,
       note="暂停发放（如复核未按时进行、外出失联），暂停期间不能登记发放"),
    _t(A.RESUME, {S.SUSPENDED}, S.ACTIVE, {R.MANAGER}, needs_reason=True, note="恢复发放"),
    _t(A.END, {S.ACTIVE, S.SUSPENDED}, S.ENDED, {R.MANAGER}, needs_reason=True,
       note="停发或退出（收入超标、死亡、迁出等）：结束日期记为今天（已填更早的保留）"),
    _t(A.REVIEW, {S.ACTIVE, S.SUSPENDED}, None, {R.MANAGER},
       note="复核：记下复核日期，下次复核日期按项目的复核周期顺延（或填写的日期）"),
))

TRANSITIONS: tuple[Transition, ...] = TABLE.transitions
find = TABLE.find
allowed_actions = TABLE.allowed_actions
table_rows = TABLE.rows
