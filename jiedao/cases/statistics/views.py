"""The leadership dashboard (驾驶舱): rates, rankings, trends, overdue work and hotspots."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from jiedao.cases import reading, selectors
from jiedao.cases.catalogue import sla
from jiedao.cases.models import COUNTER_LABELS
from jiedao.cases.statistics import panels, rollups, stats
from jiedao.core import caching, scope
from jiedao.core.permissions import Perm
from jiedao.core.scope import subtree_range
from jiedao.org import selectors as org_selectors
from jiedao.org.models import NodeKind

# --- leadership dashboard (驾驶舱) ------------------------------------------------------------------

DASHBOARD_PERIODS = (1, 3, 12)
TREND_MONTHS = 12
RANKING_TOP = 10
RANKING_BOTTOM = 5
DASHBOARD_OVERDUE = 20
# Every figure on the page with its one-line definition (docs/figures.md; the title of its tile
# and the 口径说明 list below the tiles). Rates show their numerator and denominator.
COUNT_FIELDS = (
    ("reported", gettext_lazy("登记"), gettext_lazy("本期新登记的事项件数（按登记月份）。")),
    ("accepted", gettext_lazy("受理"), gettext_lazy("本期受理的事项件数（按受理月份；合并的重复事项不计）。")),
    ("resolved", gettext_lazy("办结"),
     gettext_lazy("本期办结且结果仍有效的事项件数（按办结月份）：核查不通过、回访未解决或重办后再办结的，只计一次，计入最后一次办结的月份。")),
    ("closed", gettext_lazy("结案"), gettext_lazy("本期结案销号的事项件数（按结案月份）。")),
    ("deferred", gettext_lazy("缓办"), gettext_lazy("经领导批准缓办、另定期限的事项件数，不计入按期办结率等的分母。")),
)
RATE_FIELDS = (
    ("response_rate", gettext_lazy("响应率"), "contacted", "followed_up",
     gettext_lazy("回访时居民认为及时联系了的件数 ÷ 有效回访件数（按回访月份，只计最近一次回访）。")),
    ("resolution_rate", gettext_lazy("解决率"), "solved", "followed_up",
     gettext_lazy("回访时居民认为问题已解决的件数 ÷ 有效回访件数。")),
    ("satisfaction_rate", gettext_lazy("满意率"), "satisfied", "followed_up",
     gettext_lazy("（满意 + 基本满意 × 折算系数）÷ 有效回访件数；系数见办件规则，默认 0.9。")),
    ("composite", gettext_lazy("综合得分"), "", "",
     gettext_lazy("响应率、解决率、满意率按办件规则的权重加权（默认 0.1、0.5、0.4）。")),
    ("due_resolved_rate", gettext_lazy("办结率"), "due_resolved", "due",
     gettext_lazy("到期已办结 ÷ 到期应办结：本期到期（或提前办结）的事项中已办结的比例；缓办的不计入。")),
    ("on_time_rate", gettext_lazy("按期办结率"), "on_time", "due",
     gettext_lazy("在办理期限内办结的件数 ÷ 到期应办结件数；超期未办结的也在分母中。")),
    ("due_closed_rate", gettext_lazy("结案率"), "due_closed", "due",
     gettext_lazy("到期应办结的事项中已结案销号的比例。")),
    ("ack_rate", gettext_lazy("及时签收率"), "acknowledged_in_time", "dispatched",
     gettext_lazy("派遣后 2 小时内签收的件数 ÷ 派遣件数（按受理月份）。")),
    ("return_rate", gettext_lazy("回退率"), "returned", "dispatched",
     gettext_lazy("承办单位退回过的件数 ÷ 派遣件数（按受理月份）。")),
    ("reopen_rate", gettext_lazy("重办率"), "reopened", "accepted",
     gettext_lazy("回访未解决、不满意或结案后重办过的件数 ÷ 受理件数（按受理月份）。")),
)
COUNTER_LABEL = dict(COUNTER_LABELS)
LEVEL_LABELS = (
    ("level1", gettext_lazy("村社")),
    ("level2", gettext_lazy("科室")),
    ("level3", gettext_lazy("联席会议")),
    ("level4", gettext_lazy("区级")),
)


def _month_shift(month: Any, delta: int) -> Any:
    """The first day of the month `delta` months after `month` (a first-of-month date)."""
    index = month.year * 12 + month.month - 1 + delta
    return month.replace(year=index // 12, month=index % 12 + 1, day=1)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def rate_tile(rates: stats.Rates, key: str, label: Any, top: str, bottom: str, note: Any) -> dict[str, Any]:
    """A rate as the dashboard shows it: the percentage, and the two counts it is made of (so no
    tile reads "办结 127" beside "办结率 8.2%" without saying what the 8.2% divides)."""
    value = getattr(rates, key)
    tile = {"key": key, "label": label, "value": value, "text": _percent(value), "note": note, "parts": ""}
    if bottom:
        top_text = f"{COUNTER_LABEL[top]} {rates.counts[top]}"
        if key == "satisfaction_rate":
            top_text += f"、{COUNTER_LABEL['basic']} {rates.counts['basic']}"
        tile["parts"] = f"{top_text} / {COUNTER_LABEL[bottom]} {rates.counts[bottom]}"
    return tile


def _dashboard_node(request: HttpRequest):
    """The node asked for (in the viewer's case scope, else 404), or the viewer's top scope node."""
    raw = request.GET.get("node", "")
    if raw:
        if not raw.isdigit():
            raise Http404(_("未找到该对象。"))
        return org_selectors.node_get(request.user, raw, Perm.VIEW_CASES)
    node = org_selectors.scope_roots(request.user, Perm.VIEW_CASES).order_by("path").first()
    if node is None:
        raise Http404(_("未找到该对象。"))
    return node


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """驾驶舱: counts, rates, trend, categories, resolution levels, ranking and overdue cases of one
    scope node, read from the rollups (stats picks the table for the scope) — never by scanning
    the case table; the overdue list is one ordered index scan per status (sla.overdue_top).
    Both are rendered once and cached (dashboard_figures, dashboard_overdue); the page around
    them (navigation, the viewer's name) is the viewer's own; 本月热点 comes in a fragment of its
    own (dashboard_hotspots_fragment) once the page is shown."""
    user = request.user
    if not scope.has_perm_anywhere(user, Perm.VIEW_CASES):
        raise PermissionDenied(_("您没有查看事项统计的权限。"))
    node = _dashboard_node(request)
    raw_months = request.GET.get("months", "1")
    months = int(raw_months) if raw_months in {str(m) for m in DASHBOARD_PERIODS} else 1
    this_month = timezone.localdate().replace(day=1)
    start, end = _month_shift(this_month, 1 - months), _month_shift(this_month, 1)
    # Read before anything they key, so nothing cached is older than its key.
    generations = f"{get_language()}:{caching.generation()}:" + "-".join(
        map(str, rollups.generation(node.pk, subtree_range(node.path))))
    figures = dashboard_figures(node, months, this_month, generations)
    overdue = dashboard_overdue(user, node, generations)

    context = {
        "node": node,
        "months": months,
        "periods": DASHBOARD_PERIODS,
        "start": start,
        "last": _month_shift(end, -1),
        "figures": figures,
        "overdue": overdue,
        "hotspot_level": hotspot_level(node),
        "panels": panels.visible_to(user),  # other apps' panels (statistics.panels), each loaded as a fragment
    }
    return render(request, "cases/dashboard.html", context)


@login_required
@require_GET
def dashboard_hotspots_fragment(request: HttpRequest) -> HttpResponse:
    """本月热点 of a dashboard node, loaded by the page after it is shown (htmx, `hx-trigger=load`):
    a scan of the month's cases under the node, so it does not hold up the figures."""
    user = request.user
    if not scope.has_perm_anywhere(user, Perm.VIEW_CASES):
        raise PermissionDenied(_("您没有查看事项统计的权限。"))
    node = _dashboard_node(request)
    level, spots = dashboard_hotspots(user, node)
    return render(request, "cases/_dashboard_hotspots.html", {"node": node, "hotspot_level": level, "spots": spots})


@login_required
@require_GET
def dashboard_panel_fragment(request: HttpRequest, key: str) -> HttpResponse:
    """A panel another app registered (statistics.panels) for the dashboard's node and period,
    loaded by the page after it is shown; a panel the viewer may not see answers 404."""
    user = request.user
    if not scope.has_perm_anywhere(user, Perm.VIEW_CASES):
        raise PermissionDenied(_("您没有查看事项统计的权限。"))
    panel = panels.get(key)
    if panel is None or not panel.visible(user):
        raise Http404(_("未找到该对象。"))
    node = _dashboard_node(request)
    raw_months = request.GET.get("months", "1")
    months = int(raw_months) if raw_months in {str(m) for m in DASHBOARD_PERIODS} else 1
    start = _month_shift(timezone.localdate().replace(day=1), 1 - months)
    body = mark_safe(panel.render(request, node, start, timezone.localdate()))  # the panel's own template output
    return render(request, "cases/_dashboard_panel.html", {"panel": panel, "body": body})


FIGURES_CACHE_SECONDS = 3600  # a backstop only: the key changes the moment a figure does


def dashboard_figures(node: Any, months: int, this_month: Any, generations: str) -> SafeString:
    """The dashboard's figures (tiles, trend, categories, levels, ranking and the charts' JSON)
    rendered once per scope node, period, language and generation, and shared by everyone who
    may see that node (the view checked that before). The key holds the rollups' generation
    (rollups.generation: it moves the moment a case's figures move under the node) and the
    config cache's (node and category names, the 办件规则 weights), read before the figures, so
    what is served under a key is never older than the key. `generations`: the language, the
    config generation and the rollup generation under the node, as the view read them."""
    key = f"jiedao:dash:v1:{node.pk}:{months}:{this_month:%Y%m}:{generations}"
    html = cache.get(key)
    if html is None:
        html = render_to_string("cases/_dashboard_figures.html", _figures_context(node, months, this_month))
        cache.set(key, html, FIGURES_CACHE_SECONDS)
    return mark_safe(html)  # our own template's output, escaped when it was rendered


OVERDUE_CACHE_SECONDS = 60
# What the list shows and its deadline mark reads (selectors.deadline_mark), nothing more.
OVERDUE_FIELDS = ("id", "ticket", "title", "state", "deadline_at", "subdistrict_id", "category__name",
                  "handling_department__name")


def dashboard_overdue(user: Any, node: Any, generations: str) -> SafeString:
    """超期和临期事项 rendered once a minute per node and viewer scope (the cases the viewer may
    see under the node), and at once when a case under the node moves (the rollup generation).
    The deadline watch (sla.sla_scan) marks cases every few minutes, so a minute adds little."""
    granted = scope.granted_paths(user, Perm.VIEW_CASES)
    viewer = "all" if granted is None else ",".join(sorted(granted))
    departments = sorted({row[3] for row in scope.role_rows(user) if row[3]})
    viewer += ":d" + ",".join(map(str, departments))  # their dispatched cases are in scope too (scope_extra_q)
    now = timezone.now()
    key = f"jiedao:dash-overdue:v1:{node.pk}:{viewer}:{generations}:{int(now.timestamp()) // OVERDUE_CACHE_SECONDS}"
    html = cache.get(key)
    if html is None:
        overdue = sla.overdue_top(user, node.path, DASHBOARD_OVERDUE, only=OVERDUE_FIELDS)
        for case in overdue:
            case.mark = selectors.deadline_mark(case, now)
        html = render_to_string("cases/_dashboard_overdue.html", {"overdue": overdue})
        cache.set(key, html, OVERDUE_CACHE_SECONDS)
    return mark_safe(html)  # our own template's output, escaped when it was rendered


def _figures_context(node: Any, months: int, this_month: Any) -> dict[str, Any]:
    start, end = _month_shift(this_month, 1 - months), _month_shift(this_month, 1)
    path = node.path

    rates = stats.totals(path, start, end)
    counts = [{"key": key, "label": label, "value": rates.counts[key], "note": note}
              for key, label, note in COUNT_FIELDS]
    rate_tiles = [rate_tile(rates, *field) for field in RATE_FIELDS]

    trend_start = _month_shift(this_month, 1 - TREND_MONTHS)
    by_month = {row["month"]: row["rates"] for row in stats.trend(path, trend_start, end)}
    trend = []
    for offset in range(TREND_MONTHS):
        month = _month_shift(trend_start, offset)
        r = by_month.get(month) or stats.rates_from({})
        trend.append({"month": f"{month:%Y-%m}", "reported": r.counts["reported"], "resolved": r.counts["resolved"],
                      "closed": r.counts["closed"], "due_resolved_rate": r.due_resolved_rate})

    categories = stats.by_category(path, start, end)
    raw_levels = stats.levels_from(rates)
    levels = [{"key": key, "label": str(label), "value": raw_levels.get(key, 0)} for key, label in LEVEL_LABELS]

    # The scope's own children: districts of a city, sub-districts of a district, communities of
    # a sub-district, grids of a community — never 30,000 grids at once.
    by = stats.CHILD_UNIT.get(node.kind, "grid")
    ranking = stats.ranking(path, start, end, by=by)
    for row in ranking:
        row["composite_text"] = _percent(row["rates"].composite)
        row["resolution_text"] = _percent(row["rates"].resolution_rate)
        row["satisfaction_text"] = _percent(row["rates"].satisfaction_rate)
        row["due_resolved_text"] = _percent(row["rates"].due_resolved_rate)
    top = ranking[:RANKING_TOP]
    bottom = ranking[max(RANKING_TOP, len(ranking) - RANKING_BOTTOM):]

    chart_data = {
        "labels": {"reported": str(COUNT_FIELDS[0][1]), "resolved": str(COUNT_FIELDS[2][1]),
                   "closed": str(COUNT_FIELDS[3][1]), "due_resolved_rate": str(RATE_FIELDS[4][1]),
                   "table": _("数据表")},
        "trend": trend,
        "categories": [{"name": c["name"], "reported": c["reported"] or 0, "resolved": c["resolved"] or 0}
                       for c in categories],
        "levels": levels,
    }
    return {
        "counts": counts,
        "rate_tiles": rate_tiles,
        "trend": trend,
        "categories": categories,
        "levels": levels,
        "ranking_by": by,
        "ranking_top": top,
        "ranking_bottom": bottom,
        "chart_data": chart_data,
    }


HOTSPOT_LEVEL_BELOW = {NodeKind.SUBDISTRICT: "community", NodeKind.COMMUNITY: "grid", NodeKind.VILLAGE: "grid",
                       NodeKind.GRID: "building", NodeKind.MICROGRID: "building", NodeKind.BUILDING: "building"}
HOTSPOT_CACHE_SECONDS = 300


def hotspot_level(node: Any) -> str:
    return HOTSPOT_LEVEL_BELOW.get(node.kind, "subdistrict")


def dashboard_hotspots(user: Any, node: Any) -> tuple[str, list]:
    """本月热点 of the dashboard's node, one level below it (sub-district → communities, community →
    grids, grid → buildings; above a sub-district: sub-districts). Computed from the month's cases
    by the installed reader (jiedao.cases.reading) and kept in the cache for five minutes — per
    node when the viewer sees every case under it (their grant covers the node: then what they
    see does not depend on who they are), else per viewer."""
    level = hotspot_level(node)
    granted = scope.granted_paths(user, Perm.VIEW_CASES)
    whole = granted is None or any(node.path.startswith(path) for path in granted)
    viewer = "node" if whole else f"user{user.pk}"
    key = f"jiedao:hotspots:v2:{viewer}:{node.pk}:{level}:{get_language()}:{timezone.localdate():%Y%m%d}"
    spots = cache.get(key)
    if spots is None:
        spots = reading.reader().hotspots(user, node=node, period="month", level=level, limit=5)
        cache.set(key, spots, HOTSPOT_CACHE_SECONDS)
    return level, spots
