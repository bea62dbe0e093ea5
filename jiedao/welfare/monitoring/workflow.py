"""The entry and exit of a monitored household in one place (防止返贫动态监测, DESIGN.md §7).

    lead 线索待核实 ──verify 入户核实（书面授权）──> verified ──deliberate 民主评议──> deliberated
        ──publish 公示（≥5 天）──> notice ──approve 审核认定──> monitored 监测中
    (reject 不予纳入 from any entry step; the decision is due within 15 days of the lead)

    monitored ──exit_verify 风险消除核实（收入稳定高于当年监测标准，三保障和饮水安全有保障）──> exit_verified
        ──exit_deliberate──> exit_deliberated ──exit_publish（≥5 天）──> exit_notice
        ──exit_approve──> removed 风险已消除
    (exit_refuse 不予消除 from any exit step: back to monitored)

The grid worker who visits (the household's cadre) does the home checks; the community
(secretary and staff) runs the village deliberation and the notice; the decision is the
community's, a leader's or an administrator's. The only code that changes the state is
`jiedao.welfare.monitoring.services.monitored_act`, through the core workflow machine.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from jiedao.core.workflow import Table, Transition
from jiedao.core.workflow import transition as _t
from jiedao.welfare.models.monitoring import ENTRY_STATES, MonitoringState


class MonitoringAction(models.TextChoices):
    VERIFY = "verify", _("入户核实")
    DELIBERATE = "deliberate", _("民主评议")
    PUBLISH = "publish", _("公示")
    APPROVE = "approve", _("审核认定纳入监测")
    REJECT = "reject", _("不予纳入")
    EXIT_VERIFY = "exit_verify", _("风险消除核实")
    EXIT_DELIBERATE = "exit_deliberate", _("风险消除评议")
    EXIT_PUBLISH = "exit_publish", _("风险消除公示")
    EXIT_APPROVE = "exit_approve", _("认定风险消除")
    EXIT_REFUSE = "exit_refuse", _("不予消除")


class MonitoringActor(models.TextChoices):
    """How a user relates to a monitored household (services.monitored_actor_kinds)."""

    CADRE = "cadre", _("网格员/网格长（走访干部）")
    COMMUNITY = "community", _("社区（村）书记/工作人员")
    LEADER = "leader", _("街道领导")
    ADMIN = "admin", _("系统管理员")


S, A, R = MonitoringState, MonitoringAction, MonitoringActor
EXIT_STEPS = frozenset({S.EXIT_VERIFIED, S.EXIT_DELIBERATED, S.EXIT_NOTICE})


def _notice_over(row: Any, actor: Any, kinds: Any) -> str | None:
    end = row.exit_notice_to if row.state == S.EXIT_NOTICE else row.notice_to
    if end is not None and timezone.localdate() <= end:
        return gettext("公示期到 %(day)s 结束，期满后才能认定。") % {"day": end.isoformat()}
    return None


TABLE = Table(noun=_("监测户"), states=MonitoringState, actions=MonitoringAction, actors=MonitoringActor, transitions=(
    _t(A.VERIFY, {S.LEAD}, S.VERIFIED, {R.CADRE, R.COMMUNITY, R.ADMIN},
       note="入户核实家庭人口、收入和风险，登记农户书面授权（承诺授权书）日期"),
    _t(A.DELIBERATE, {S.VERIFIED}, S.DELIBERATED, {R.COMMUNITY, R.ADMIN}, needs_reason=True,
       note="村（社区）民主评议，记下评议结果"),
    _t(A.PUBLISH, {S.DELIBERATED}, S.NOTICE, {R.COMMUNITY, R.ADMIN},
       note="在村（社区）公示不少于 5 天；公示内容不含身份证号、电话、银行账号和健康状况"),
    _t(A.APPROVE, {S.NOTICE}, S.MONITORED, {R.COMMUNITY, R.LEADER, R.ADMIN},
       guard=_notice_over, guard_note="公示期满",
       note="街道审核、县级认定后纳入监测（自线索起 15 天内）"),
    _t(A.REJECT, ENTRY_STATES, S.REJECTED, {R.COMMUNITY, R.LEADER, R.ADMIN}, needs_reason=True,
       note="核实、评议、公示或审核不通过，不予纳入，说明理由"),
    _t(A.EXIT_VERIFY, {S.MONITORED}, S.EXIT_VERIFIED, {R.CADRE, R.COMMUNITY, R.ADMIN},
       note="收入持续稳定高于当年监测标准，义务教育、基本医疗、住房安全和饮水安全有保障（逐项登记）"),
    _t(A.EXIT_DELIBERATE, {S.EXIT_VERIFIED}, S.EXIT_DELIBERATED, {R.COMMUNITY, R.ADMIN}, needs_reason=True,
       note="村（社区）民主评议风险消除"),
    _t(A.EXIT_PUBLISH, {S.EXIT_DELIBERATED}, S.EXIT_NOTICE, {R.COMMUNITY, R.ADMIN},
       note="风险消除公示不少于 5 天，内容同纳入公示"),
    _t(A.EXIT_APPROVE, {S.EXIT_NOTICE}, S.REMOVED, {R.COMMUNITY, R.LEADER, R.ADMIN},
       guard=_notice_over, guard_note="公示期满", note="审核认定风险消除，不再监测"),
    _t(A.EXIT_REFUSE, EXIT_STEPS, S.MONITORED, {R.COMMUNITY, R.LEADER, R.ADMIN}, needs_reason=True,
       note="风险尚未消除，继续监测"),
))

TRANSITIONS: tuple[Transition, ...] = TABLE.transitions
find = TABLE.find
allowed_actions = TABLE.allowed_actions
table_rows = TABLE.rows
