"""The case list as an export job (core.exports): its columns (the reporter's phone masked, no
clear export) and its rows from the stored list filters, registered in CasesConfig.ready."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone

from jiedao.cases import selectors
from jiedao.cases.models import Case, Category
from jiedao.core import exports
from jiedao.org.models import OrgNode


def case_columns() -> list[exports.ExportColumn]:
    col = exports.ExportColumn

    def when(name: str) -> Callable[[Case], str]:
        def value(case: Case) -> str:
            moment = getattr(case, name)
            return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}" if moment else ""

        return value

    def label(name: str) -> Callable[[Case], str]:
        return lambda case: str(getattr(case, f"get_{name}_display")()) if getattr(case, name) else ""

    return [
        col("编号", lambda c: c.ticket, width=20, text=True),
        col("标题", lambda c: c.title, width=30),
        col("来源", label("source"), width=10),
        col("类别", lambda c: c.category.name if c.category else "", width=14),
        col("分流", label("tier"), width=8),
        col("紧急程度", label("urgency"), width=8),
        col("状态", label("state"), width=10),
        col("社区（村）", lambda c: c.community.name if c.community else "", width=14),
        col("网格", lambda c: c.grid.name if c.grid else "", width=16),
        col("楼栋", lambda c: c.building.name if c.building else "", width=10),
        col("地点", lambda c: c.address, width=24),
        col("反映人", lambda c: "匿名" if c.anonymous else c.reporter_name, width=10),
        col("反映人电话", lambda c: c.reporter_phone_masked, width=16, text=True),
        col("承办单位", lambda c: (c.handling_department.name if c.handling_department
                                   else c.handling_node.name if c.handling_node else ""), width=14),
        col("登记时间", when("created_at"), width=17),
        col("派遣时间", when("dispatched_at"), width=17),
        col("办理期限", when("deadline_at"), width=17),
        col("办结时间", when("resolved_at"), width=17),
        col("结案时间", when("closed_at"), width=17),
        col("评价", label("rating"), width=10),
        col("退回次数", lambda c: c.return_count, width=8),
        col("返工次数", lambda c: c.rework_count, width=8),
        col("重办次数", lambda c: c.reopen_count, width=8),
        col("督办次数", lambda c: c.supervise_count, width=8),
    ]


def case_rows(actor: Any, filters: dict[str, Any], reveal: bool) -> tuple[Any, list[exports.ExportColumn]]:
    """The case list's rows for an export job. A node or category deleted since fails the job
    (DoesNotExist) rather than widening the export."""
    args = dict(filters)
    if args.get("node"):
        args["node"] = OrgNode.objects.get(pk=args["node"])
    if args.get("category"):
        args["category"] = Category.objects.get(pk=args["category"])
    return selectors.case_list(actor, **args), case_columns()


def register_exports() -> None:
    exports.register(exports.ExportKind("cases", "诉求事件", selectors.can_view_cases, case_rows))
