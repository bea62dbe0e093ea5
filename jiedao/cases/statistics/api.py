"""REST endpoints of the statistics: rates, rankings, trends, categories (under /api/v1/cases/stats)."""

from datetime import date
from typing import Any, Literal

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from jiedao.cases.api_common import MAX_STATS_MONTHS, STATS_ERRORS, T_STATS, Month, case_node, month_start, next_month
from jiedao.cases.statistics import stats
from jiedao.core import scope
from jiedao.core.api import MAX_ID
from jiedao.core.errors import DomainError, PermissionError_
from jiedao.core.permissions import Perm
from jiedao.org.models import OrgNode

router = Router()


# --- schemas: statistics --------------------------------------------------------------------------


class RatesOut(Schema):
    counts: dict[str, int] = Field(
        description="计数（按件，每件事项在每个计数里最多计一次；口径见 docs/figures.md）：reported 登记、accepted 受理、"
                    "rejected 不予受理、merged 合并、dispatched 派遣、acknowledged_in_time 及时签收、returned 退回、"
                    "reworked 返工、reopened 重办、resolved 办结（最后一次有效办结）、resolved_level1..4 各级化解、"
                    "due 到期应办结、due_resolved 到期已办结、on_time 按期办结、due_closed 到期已结案、deferred 缓办、"
                    "closed 结案、followed_up 有效回访、contacted 及时联系、solved 已解决、satisfied 满意、basic 基本满意、"
                    "unsatisfied 不满意")
    response_rate: float | None = Field(None, description="响应率 = 及时联系 / 有效回访")
    resolution_rate: float | None = Field(None, description="解决率 = 已解决 / 有效回访")
    satisfaction_rate: float | None = Field(None, description="满意率 = (满意 + 折算系数×基本满意) / 有效回访（系数见办件规则，默认 0.9）")
    composite: float | None = Field(None, description="综合得分 = 响应率、解决率、满意率按办件规则的权重加权（默认 0.1/0.5/0.4）")
    due_resolved_rate: float | None = Field(None, description="办结率 = 到期已办结 / 到期应办结（缓办不计入）")
    on_time_rate: float | None = Field(None, description="按期办结率 = 按期办结 / 到期应办结")
    due_closed_rate: float | None = Field(None, description="结案率 = 到期已结案 / 到期应办结")
    ack_rate: float | None = Field(None, description="及时签收率 = 及时签收（派遣后 2 小时内）/ 派遣")
    return_rate: float | None = Field(None, description="回退率 = 退回 / 派遣")
    reopen_rate: float | None = Field(None, description="重办率 = 重办 / 受理")


class StatsScopeOut(Schema):
    node_id: int | None = Field(None, description="统计范围节点编号；null 表示全部")
    node_name: str = Field(description="统计范围名称")
    start_month: str = Field(description="起始月份（YYYY-MM，含）")
    end_month: str = Field(description="截止月份（YYYY-MM，含）")


class RatesReportOut(StatsScopeOut):
    rates: RatesOut = Field(description="各项比率")
    levels: dict[str, int] = Field(description="化解层级：level1 村社、level2 街道科室、level3 联席会议、level4 区级")


class RankingRowOut(Schema):
    position: int = Field(description="名次")
    unit_id: int | None = Field(None, description="网格或社区（村）编号")
    unit_name: str | None = Field(None, description="网格或社区（村）名称")
    rates: RatesOut = Field(description="各项比率")


class RankingOut(StatsScopeOut):
    by: str = Field(description="排名单位：grid 或 community")
    items: list[RankingRowOut] = Field(description="按综合得分从高到低")


class TrendRowOut(Schema):
    month: str = Field(description="月份（YYYY-MM）")
    rates: RatesOut = Field(description="该月的计数和比率")


class TrendOut(StatsScopeOut):
    months: list[TrendRowOut] = Field(description="逐月（没有数据的月份计数为 0）")


class CategoryCountOut(Schema):
    category_id: int | None = Field(None, description="类别编号；null 为未分类")
    name: str = Field(description="类别名称")
    reported: int = Field(description="登记数（按登记月份）")
    resolved: int = Field(description="办结数（按最后一次有效办结的月份）")


class CategoryStatsOut(StatsScopeOut):
    items: list[CategoryCountOut] = Field(description="按登记数从多到少")


# --- endpoints: statistics ------------------------------------------------------------------------


class Period:
    def __init__(self, start: date, last: date) -> None:
        self.start, self.last, self.end = start, last, next_month(last)

    def months(self) -> list[date]:
        months, day = [], self.start
        while day <= self.last:
            months.append(day)
            day = next_month(day)
        return months


def _period(start_month: str | None, end_month: str | None) -> Period:
    today = timezone.localdate()
    start = month_start(start_month) if start_month else date(today.year, 1, 1)
    last = month_start(end_month) if end_month else today.replace(day=1)
    if start > last:
        raise DomainError(_("起始月份不能晚于截止月份。"), field="from")
    if (last.year - start.year) * 12 + last.month - start.month + 1 > MAX_STATS_MONTHS:
        raise DomainError(_("统计区间不能超过 %(months)s 个月。") % {"months": MAX_STATS_MONTHS}, field="from")
    return Period(start, last)


def _stats_node(request: Any, node_id: int | None) -> OrgNode | None:
    """The node to report on: the one asked for (in the caller's case scope, else 404), or the
    caller's own scope when it is a single subtree. None means everywhere (superusers)."""
    if node_id is not None:
        return case_node(request, node_id)
    paths = scope.granted_paths(request.auth, Perm.VIEW_CASES)
    if paths is None:
        return None
    if not paths:
        raise PermissionError_(_("您没有查看事项统计的权限。"))
    if len(paths) > 1:
        raise DomainError(_("您管辖多个范围，请用 node 指定统计范围。"), field="node")
    return OrgNode.objects.get(path=paths[0])


def _scope_out(node: OrgNode | None, period: Period) -> dict[str, Any]:
    return {"node_id": node.pk if node else None, "node_name": node.name if node else "全部",
            "start_month": f"{period.start:%Y-%m}", "end_month": f"{period.last:%Y-%m}"}


class StatsQuery(Schema):
    node: int | None = Field(None, ge=1, le=MAX_ID, description="统计范围节点编号（默认为本人管辖范围）")
    start_month: Month | None = Field(None, alias="from", description="起始月份 YYYY-MM（含），默认本年 1 月")
    end_month: Month | None = Field(None, alias="to", description="截止月份 YYYY-MM（含），默认本月")


def _stats_args(request: Any, query: StatsQuery) -> tuple[OrgNode | None, Period, str | None]:
    period = _period(query.start_month, query.end_month)
    node = _stats_node(request, query.node)
    return node, period, node.path if node else None


@router.get("/stats/rates", response={200: RatesReportOut, **STATS_ERRORS}, summary="办理比率", tags=T_STATS)
def stats_rates(request, query: Query[StatsQuery]):
    """响应率、解决率、满意率、综合得分、办结率、按期办结率、结案率、及时签收率、回退率、重办率，以及三级调处的
    化解层级分布。每个比率的分子都是分母中的一部分（同一范围、同一月份），因此都在 0 到 1 之间；分母为 0 时为
    null（不是 0 或 100%）。"""
    node, period, path = _stats_args(request, query)
    return {**_scope_out(node, period), "rates": stats.totals(path, period.start, period.end),
            "levels": stats.resolution_levels(path, period.start, period.end)}


@router.get("/stats/ranking", response={200: RankingOut, **STATS_ERRORS}, summary="网格/社区排名", tags=T_STATS)
def stats_ranking(
    request, query: Query[StatsQuery],
    by: Literal["grid", "community", "subdistrict", "district", "child"] = Query(
        "grid", description="排名单位：grid 网格，community 社区（村），subdistrict 街道，district 区（县），"
                            "child 统计范围的下一级"),
):
    """月评议、季评比：按综合得分从高到低排名。"""
    node, period, path = _stats_args(request, query)
    return {**_scope_out(node, period), "by": by, "items": stats.ranking(path, period.start, period.end, by=by)}


@router.get("/stats/trend", response={200: TrendOut, **STATS_ERRORS}, summary="逐月趋势", tags=T_STATS)
def stats_trend(request, query: Query[StatsQuery]):
    node, period, path = _stats_args(request, query)
    rows = {row["month"]: row["rates"] for row in stats.trend(path, period.start, period.end)}
    months = [{"month": f"{m:%Y-%m}", "rates": rows.get(m) or stats.rates_from({})} for m in period.months()]
    return {**_scope_out(node, period), "months": months}


@router.get("/stats/categories", response={200: CategoryStatsOut, **STATS_ERRORS}, summary="类别分布",
            tags=T_STATS)
def stats_categories(
    request, query: Query[StatsQuery],
    limit: int = Query(10, ge=1, le=100, description="最多列出多少个类别"),
):
    node, period, path = _stats_args(request, query)
    return {**_scope_out(node, period), "items": stats.by_category(path, period.start, period.end, limit=limit)}
