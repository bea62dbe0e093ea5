"""The 防止返贫监测 household list as an export job (core.exports): its columns and its rows from
the stored list filters, through the same scoped selector as the page (monitoring.selectors.
monitored_list), registered in WelfareConfig.ready. No identifier is exported: the household is
named by its number and the head by the register's name, as on the page."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.utils import timezone

from jiedao.core import exports, scope
from jiedao.core.permissions import Perm
from jiedao.org.models import OrgNode
from jiedao.welfare.models.monitoring import UNDER_MONITORING, MonitoredHousehold
from jiedao.welfare.monitoring import selectors


def next_visit_month(m: MonitoredHousehold, today: date | None = None) -> str:
    """The month the next monthly visit falls due (docs/figures.md § 防止返贫动态监测: a household
    under monitoring is due one visit a calendar month): this month when not yet visited in it,
    else next month; "" when the household is not under monitoring."""
    if m.state not in UNDER_MONITORING:
        return ""
    first = selectors.month_start(today or timezone.localdate())
    if m.last_visit_on and m.last_visit_on >= first:
        first = selectors.next_month(first)
    return f"{first:%Y-%m}"


def monitored_columns() -> list[exports.ExportColumn]:
    col = exports.ExportColumn
    return [
        col("户号", lambda m: m.household.number, width=16, text=True),
        col("户主", lambda m: m.head_name or "", width=10),
        col("社区（村）", lambda m: m.household.node.name if m.household.node_id else "", width=16),
        col("住址", lambda m: m.household.address, width=28),
        col("监测对象类型", lambda m: str(m.get_kind_display()), width=16),
        col("风险类型", lambda m: "、".join(m.risk_labels()), width=24),
        col("帮扶干部", lambda m: (m.cadre.get_full_name() or m.cadre.get_username()) if m.cadre_id else "", width=10),
        col("状态", lambda m: str(m.get_state_display()), width=12),
        col("认定超 15 天", lambda m: "是" if m.decision_late else "", width=10),
        col("家庭人口", lambda m: m.members, width=8),
        col("人均纯收入（元/年）", lambda m: int(m.income_per_head) if m.income_per_head is not None else None, width=14),
        col("线索日期", lambda m: m.lead_on, width=12),
        col("纳入监测日期", lambda m: m.included_on, width=12),
        col("最近走访日期", lambda m: m.last_visit_on, width=12),
        col("下次应走访（月）", next_visit_month, width=12, text=True),
    ]


def monitored_rows(actor: Any, filters: dict[str, Any], reveal: bool) -> tuple[Any, list[exports.ExportColumn]]:
    """The list's rows for an export job. A community deleted (or out of scope) since fails the
    job (DoesNotExist) rather than widening the export; the rows are the actor's scope whatever
    the node."""
    args = dict(filters)
    if args.get("node"):
        args["node"] = OrgNode.objects.get(pk=args["node"])
    return selectors.monitored_list(actor, **args), monitored_columns()


def can_export(user: Any) -> bool:
    """Who may view the list may export it."""
    return bool(user and user.is_authenticated and scope.has_perm_anywhere(user, Perm.VIEW_WELFARE))


def register_exports() -> None:
    exports.register(exports.ExportKind("welfare.monitoring", "防止返贫监测户", can_export, monitored_rows))
