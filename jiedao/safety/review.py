"""季度风险研判: the quarterly safety risk review of one place (a sub-district, a community (村) or
a grid the reader may see), generated from the rows when asked — a page, an xlsx and a docx in
the official-document layout (GB/T 9704).

What it holds (definitions: docs/figures.md § 季度风险研判):
- the quarter's figures (底数, 排摸 and its coverage, 隐患, 重大隐患, 整改率, 按期整改率, 逾期未整改)
  read through `selectors.figures` — the one reader of those figures —, and the same for the
  previous quarter, for the comparison;
- the quarter's hazards by field (领域) and by severity, counted with the same rules;
- the overdue list: the quarter's hazards not rectified yet and past their deadline now;
- the top-risk businesses and the parks/factories with tenants (园中园 / 厂中厂).

Every read goes through the scoped selectors (jiedao.core.scope, permission `safety.view`) and
is narrowed to the place's subtree, so a reader who sees part of a place gets the review of that
part, and a place outside the reader's scope answers 404 (`review_node`).

The documents are rendered by the 季报告 machinery of jiedao.cases.cycles.reports (its `Report`
and `Sheet`, `report_docx`, `report_xlsx`), so both quarterly documents share one layout.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.http import Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from jiedao.cases.cycles.reports import (
    Report,
    Sheet,
    cn_date,
    cn_number,
    percent,
    quarter_name,
    report_docx,
    report_xlsx,
)
from jiedao.core import scope
from jiedao.core.permissions import Perm
from jiedao.org import selectors as org_selectors
from jiedao.org.models import NodeKind, OrgNode
from jiedao.people.models import Business, RiskColour
from jiedao.safety import selectors
from jiedao.safety.models import (
    OPEN_STATES,
    UNRECTIFIED_STATES,
    Hazard,
    HazardState,
    SafetyField,
    Severity,
    Tenancy,
    TenancyKind,
)

REVIEW_KINDS = (NodeKind.SUBDISTRICT, NodeKind.COMMUNITY, NodeKind.VILLAGE, NodeKind.GRID)
TOP_BUSINESSES = 10
TOP_SITES = 10
OVERDUE_IN_DOCUMENT = 20  # the docx lists the first ones; the page and the xlsx list them all
QUARTER_CHOICES = 8
MAX_PLACES = 400
COLOUR_RANK = {RiskColour.RED: 0, RiskColour.YELLOW: 1, RiskColour.GREEN: 2}


# --- quarters and places --------------------------------------------------------------------------


def quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def previous_quarter(year: int, quarter: int) -> tuple[int, int]:
    return (year - 1, 4) if quarter == 1 else (year, quarter - 1)


def quarter_dates(year: int, quarter: int) -> tuple[date, date]:
    """The quarter's first and last day (both included)."""
    start = date(year, 3 * quarter - 2, 1)
    following = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return start, following - timedelta(days=1)


def recent_quarters(today: date | None = None, count: int = QUARTER_CHOICES) -> list[tuple[int, int, str]]:
    year, quarter = quarter_of(today or timezone.localdate())
    out = []
    for _i in range(count):
        out.append((year, quarter, quarter_name(year, quarter)))
        year, quarter = previous_quarter(year, quarter)
    return out


def parse_quarter(raw: str) -> tuple[int, int] | None:
    """"2026-Q3" → (2026, 3); None when malformed or out of 2000–2100."""
    text = (raw or "").strip().upper()
    if len(text) != 7 or text[4:6] != "-Q" or not text[:4].isdigit() or text[6] not in "1234":
        return None
    year = int(text[:4])
    return (year, int(text[6])) if 2000 <= year <= 2100 else None


def places(user: Any) -> list[OrgNode]:
    """The places the user may ask a review of: the sub-districts, communities (村) and grids in
    their safety scope, in tree order."""
    qs = org_selectors.nodes_visible(user, Perm.VIEW_SAFETY).filter(kind__in=REVIEW_KINDS).defer("boundary")
    if qs.count() > MAX_PLACES:  # a district or city: its grids are too many to list (still reachable by id)
        qs = qs.exclude(kind=NodeKind.GRID)
    return list(qs.order_by("path")[:MAX_PLACES])


def review_node(user: Any, pk: Any) -> OrgNode:
    """The place by id: in the user's safety scope and of a kind reviews are made for, else 404."""
    node = org_selectors.node_get(user, pk, Perm.VIEW_SAFETY)
    if node.kind not in REVIEW_KINDS:
        raise Http404
    return node


# --- the review -----------------------------------------------------------------------------------


@dataclass
class HazardRow:
    """Hazards of the quarter in one group (a field or a severity), counted as the figures are."""

    key: str
    label: str
    hazards: int = 0
    major: int = 0
    rectified: int = 0
    on_time: int = 0
    overdue_open: int = 0

    @property
    def ordinary(self) -> int:
        return self.hazards - self.major

    @property
    def rectification_rate(self) -> float | None:
        return self.rectified / self.hazards if self.hazards else None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.hazards if self.hazards else None


@dataclass
class BusinessRow:
    business: Business
    grid: str
    hazards: int = 0  # found in the quarter (cancelled left out)
    major: int = 0
    open: int = 0  # not closed now, whenever found
    open_major: int = 0
    overdue: int = 0  # not rectified and past the deadline now, whenever found

    @property
    def colour_label(self) -> str:
        return str(RiskColour(self.business.risk_colour).label)


@dataclass
class SiteRow:
    site: Business
    kind_label: str
    tenants: int = 0  # tenants in the reader's scope under the place
    inspected: int = 0  # of the site and its tenants, those inspected in the quarter
    hazards: int = 0
    major: int = 0
    open: int = 0


@dataclass
class TenantSummary:
    tenants: int = 0
    inspected: int = 0
    hazards: int = 0
    major: int = 0
    rectified: int = 0

    @property
    def rectification_rate(self) -> float | None:
        return self.rectified / self.hazards if self.hazards else None


@dataclass
class Review:
    node: OrgNode
    year: int
    quarter: int
    start: date
    end: date
    now: datetime
    figures: selectors.Figures
    previous: selectors.Figures
    previous_name: str
    inspections: int
    previous_inspections: int
    by_field: list[HazardRow] = field(default_factory=list)
    by_severity: list[HazardRow] = field(default_factory=list)
    overdue: list[Hazard] = field(default_factory=list)
    businesses: list[BusinessRow] = field(default_factory=list)
    sites: list[SiteRow] = field(default_factory=list)
    tenant_summary: TenantSummary = field(default_factory=TenantSummary)

    @property
    def name(self) -> str:
        return quarter_name(self.year, self.quarter)

    @property
    def title(self) -> str:
        return f"{self.node.name}{self.name}安全生产风险研判报告"

    @property
    def quarter_key(self) -> str:
        return f"{self.year}-Q{self.quarter}"

    def comparison(self) -> list[tuple[str, str, str, str]]:
        """(label, this quarter, previous quarter, change) rows, counts and rates (rates change in
        percentage points); labels in the active language (the documents are made in zh-hans)."""
        f, p = self.figures, self.previous
        rows = []
        for label, now, before in ((_("排摸（家）"), f.visited, p.visited),
                                   (_("检查（次）"), self.inspections, self.previous_inspections),
                                   (_("隐患（个）"), f.hazards, p.hazards), (_("重大隐患（个）"), f.major, p.major),
                                   (_("逾期未整改（个）"), f.overdue_open, p.overdue_open)):
            rows.append((label, str(now), str(before), f"{now - before:+d}"))
        for label, now, before in ((_("排摸覆盖率"), f.coverage_rate, p.coverage_rate),
                                   (_("整改率"), f.rectification_rate, p.rectification_rate),
                                   (_("按期整改率"), f.on_time_rate, p.on_time_rate)):
            change = "—" if now is None or before is None else _("%(points)s个百分点") % {"points": f"{(now - before) * 100:+.1f}"}
            rows.append((label, percent(now), percent(before), change))
        return rows


def _in_place(qs: QuerySet, node: OrgNode, path_field: str = "node__path") -> QuerySet:
    return qs.filter(**{f"{path_field}__range": scope.subtree_range(node.path)})


def _quarter_hazards(user: Any, node: OrgNode, start: date, end: date) -> QuerySet[Hazard]:
    """The hazards of `selectors.figures`' 隐患: found in the period, in scope and under the place,
    cancelled left out."""
    low, high = selectors.period_bounds(start, end)
    return _in_place(selectors.hazards_visible(user), node).filter(found_at__gte=low, found_at__lt=high).exclude(
        state=HazardState.CANCELLED)


def _counts(now: datetime) -> dict[str, Any]:
    """The aggregates of one group of hazards, by the figures' rules (docs/figures.md)."""
    return {
        "n": Count("pk"), "major": Count("pk", filter=Q(severity=Severity.MAJOR)),
        "closed": Count("pk", filter=Q(state=HazardState.CLOSED)),
        "on_time": Count("pk", filter=Q(state=HazardState.CLOSED, rectified_at__lte=F("deadline_at"))),
        "overdue": Count("pk", filter=Q(state__in=UNRECTIFIED_STATES, deadline_at__lt=now)),
    }


def _grouped(hazards: QuerySet[Hazard], by: str, choices: Any, now: datetime) -> list[HazardRow]:
    rows = {r[by]: r for r in hazards.order_by().values(by).annotate(**_counts(now))}
    out = []
    for value, label in choices.choices:
        r = rows.get(value)
        if r is None:
            continue
        out.append(HazardRow(value, str(label), r["n"], r["major"], r["closed"], r["on_time"], r["overdue"]))
    return out


def _grid_names(node: OrgNode) -> tuple[list[str], dict[str, str]]:
    """The grids at or under the place (every business under the place hangs under one of them)."""
    names = dict(OrgNode.objects.filter(kind=NodeKind.GRID, path__range=scope.subtree_range(node.path))
                 .values_list("path", "name"))
    return sorted(names, key=len, reverse=True), names


def _grid_of(path: str, grid_paths: list[str], names: dict[str, str]) -> str:
    grid = next((g for g in grid_paths if path.startswith(g)), None)
    return names[grid] if grid else "—"


def build(user: Any, node: OrgNode, year: int, quarter: int, *, now: datetime | None = None) -> Review:
    """The review of `node` (the caller got it through `review_node`) for the quarter."""
    now = now or timezone.now()
    start, end = quarter_dates(year, quarter)
    p_year, p_quarter = previous_quarter(year, quarter)
    p_start, p_end = quarter_dates(p_year, p_quarter)
    figures = selectors.figures(user, start, end, node=node, now=now)
    previous = selectors.figures(user, p_start, p_end, node=node, now=now)
    inspections = _in_place(selectors.inspections_visible(user), node)
    review = Review(
        node=node, year=year, quarter=quarter, start=start, end=end, now=now, figures=figures, previous=previous,
        previous_name=quarter_name(p_year, p_quarter),
        inspections=inspections.filter(inspected_on__range=(start, end)).count(),
        previous_inspections=inspections.filter(inspected_on__range=(p_start, p_end)).count(),
    )
    hazards = _quarter_hazards(user, node, start, end)
    review.by_field = sorted(_grouped(hazards, "field", SafetyField, now), key=lambda r: (-r.hazards, r.key))
    review.by_severity = _grouped(hazards, "severity", Severity, now)
    review.overdue = list(hazards.filter(state__in=UNRECTIFIED_STATES, deadline_at__lt=now)
                          .select_related("business", "node").order_by("deadline_at", "pk"))
    _risk_tables(user, node, review, hazards, now)
    return review


def _risk_tables(user: Any, node: OrgNode, review: Review, hazards: QuerySet[Hazard], now: datetime) -> None:
    """The top-risk businesses and the parks/factories with tenants."""
    grid_paths, grid_names = _grid_names(node)
    quarter = defaultdict(lambda: [0, 0])
    for business_id, severity in hazards.values_list("business_id", "severity"):
        quarter[business_id][0] += 1
        quarter[business_id][1] += severity == Severity.MAJOR
    standing = defaultdict(lambda: [0, 0, 0])
    open_hazards = _in_place(selectors.hazards_visible(user), node).filter(state__in=OPEN_STATES)
    for business_id, severity, state, deadline in open_hazards.values_list("business_id", "severity", "state",
                                                                           "deadline_at"):
        standing[business_id][0] += 1
        standing[business_id][1] += severity == Severity.MAJOR
        standing[business_id][2] += state in UNRECTIFIED_STATES and deadline < now
    businesses = _in_place(selectors.businesses_visible(user), node).filter(is_active=True)
    candidates = businesses.filter(Q(pk__in=set(quarter) | set(standing)) | Q(risk_colour=RiskColour.RED))

    def row(b: Business) -> BusinessRow:
        q, s = quarter.get(b.pk, (0, 0)), standing.get(b.pk, (0, 0, 0))
        return BusinessRow(b, _grid_of(b.node.path, grid_paths, grid_names), q[0], q[1], s[0], s[1], s[2])

    rows = [row(b) for b in candidates]
    rows.sort(key=lambda r: (COLOUR_RANK.get(r.business.risk_colour, 3), -r.open_major, -r.overdue, -r.open,
                             -r.major, -r.hazards, r.business.name, r.business.pk))
    review.businesses = rows[:TOP_BUSINESSES]

    # Parks and factories: the tenancies whose tenant the reader sees under the place.
    tenancies = list(_in_place(scope.restrict(Tenancy.objects.select_related("site"), user, Perm.VIEW_SAFETY),
                               node, "tenant__node__path").filter(tenant__is_active=True))
    visible = set(businesses.values_list("pk", flat=True))
    inspected = set(_in_place(selectors.inspections_visible(user), node)
                    .filter(inspected_on__range=(review.start, review.end)).values_list("business_id", flat=True))
    closed = dict(hazards.filter(state=HazardState.CLOSED).order_by().values("business_id")
                  .annotate(n=Count("pk")).values_list("business_id", "n"))
    sites: dict[int, SiteRow] = {}
    members: dict[int, set[int]] = defaultdict(set)
    summary = review.tenant_summary
    for tenancy in tenancies:
        site = sites.setdefault(tenancy.site_id, SiteRow(tenancy.site, str(TenancyKind(tenancy.kind).label)))
        site.tenants += 1
        members[tenancy.site_id].add(tenancy.tenant_id)
        if tenancy.site_id in visible:
            members[tenancy.site_id].add(tenancy.site_id)
        summary.tenants += 1
        summary.inspected += tenancy.tenant_id in inspected
        summary.hazards += quarter.get(tenancy.tenant_id, (0, 0))[0]
        summary.major += quarter.get(tenancy.tenant_id, (0, 0))[1]
        summary.rectified += closed.get(tenancy.tenant_id, 0)
    for site_id, site in sites.items():
        for member in members[site_id]:
            site.inspected += member in inspected
            site.hazards += quarter.get(member, (0, 0))[0]
            site.major += quarter.get(member, (0, 0))[1]
            site.open += standing.get(member, (0, 0, 0))[0]
    review.sites = sorted(sites.values(), key=lambda s: (-s.major, -s.hazards, -s.open, s.site.name, s.site.pk))[:TOP_SITES]


# --- the document ---------------------------------------------------------------------------------


def overdue_days(hazard: Hazard, now: datetime) -> int:
    return max((timezone.localtime(now).date() - timezone.localtime(hazard.deadline_at).date()).days, 0)


def _field_sentence(row: HazardRow) -> str:
    return (f"{row.label}：隐患{row.hazards}个，其中重大隐患{row.major}个，已整改销号{row.rectified}个，"
            f"按期整改{row.on_time}个，逾期未整改{row.overdue_open}个。")


def _change(now: int, before: int, unit: str) -> str:
    if now == before:
        return "持平"
    return f"{'增加' if now > before else '减少'}{abs(now - before)}{unit}"


def _rate_change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return "无可比数据"
    points = (now - before) * 100
    if abs(points) < 0.05:
        return "持平"
    return f"{'上升' if points > 0 else '下降'}{abs(points):.1f}个百分点"


def document(review: Review) -> Report:
    """The review as a `Report` (paragraphs for the docx and the page, sheets for the xlsx)."""
    with translation.override("zh-hans"):
        return _document(review)


def _document(review: Review) -> Report:
    f, p, now = review.figures, review.previous, review.now
    place = review.node.name
    period = f"{cn_date(review.start)}至{cn_date(review.end)}"
    out: list[tuple[str, str]] = [
        ("body", f"根据“二线三色五查”工作机制，现对{place}{review.name}（{period}）安全生产风险排查整治情况研判如下。"
                 f"本报告数据截至{cn_date(timezone.localtime(now).date())}，由平台按统一口径生成。"),
        ("h1", "一、总体情况"),
        ("body", f"辖区在营工商业主体底数{f.base}家。本季度排摸{f.visited}家，排摸覆盖率{percent(f.coverage_rate)}，"
                 f"共开展安全检查{review.inspections}次，尚有{max(f.base - f.visited, 0)}家本季度未检查。"),
        ("body", f"本季度发现隐患{f.hazards}个，其中重大隐患{f.major}个、一般隐患{f.hazards - f.major}个；"
                 f"已整改销号{f.rectified}个，整改率{percent(f.rectification_rate)}；按期整改{f.on_time}个，"
                 f"按期整改率{percent(f.on_time_rate)}；逾期未整改{f.overdue_open}个。"),
        ("h1", "二、隐患分布"),
        ("h2", "（一）按领域"),
    ]
    out += [("body", _field_sentence(row)) for row in review.by_field] or [("body", "本季度未发现隐患。")]
    out.append(("h2", "（二）按等级"))
    out += [("body", f"{row.label}{row.hazards}个，已整改销号{row.rectified}个，整改率{percent(row.rectification_rate)}，"
                     f"按期整改率{percent(row.on_time_rate)}，逾期未整改{row.overdue_open}个。")
            for row in review.by_severity] or [("body", "本季度未发现隐患。")]
    out.append(("h1", "三、逾期未整改隐患"))
    if review.overdue:
        out.append(("body", f"本季度发现的隐患中，逾期未整改{len(review.overdue)}个，逐一列明如下"
                            + ("：" if len(review.overdue) <= OVERDUE_IN_DOCUMENT
                               else f"（列前{OVERDUE_IN_DOCUMENT}个，全部见数据表）：")))
        for index, hazard in enumerate(review.overdue[:OVERDUE_IN_DOCUMENT], start=1):
            out.append(("body", f"{index}. {hazard.code}，{hazard.business.name}，{hazard.get_field_display()}领域"
                                f"{hazard.get_severity_display()}：{hazard.description}；整改期限"
                                f"{cn_date(timezone.localtime(hazard.deadline_at).date())}，已逾期{overdue_days(hazard, now)}天，"
                                f"{hazard.get_state_display()}。"))
    else:
        out.append(("body", "本季度发现的隐患均未逾期。"))
    out.append(("h1", "四、重点风险主体和园区（厂区）"))
    out.append(("h2", "（一）重点风险主体"))
    if review.businesses:
        out.append(("body", "按风险等级、未销号重大隐患、逾期隐患、未销号隐患和本季度隐患数排序，列前"
                            f"{len(review.businesses)}家："))
        for index, row in enumerate(review.businesses, start=1):
            out.append(("body", f"{index}. {row.business.name}（{row.grid}，{row.colour_label}）：本季度发现隐患"
                                f"{row.hazards}个（重大{row.major}个），目前未销号{row.open}个（重大{row.open_major}个），"
                                f"逾期{row.overdue}个。"))
    else:
        out.append(("body", "辖区内没有红色主体，也没有未销号的隐患。"))
    out.append(("h2", "（二）园中园、厂中厂"))
    t = review.tenant_summary
    if review.sites:
        out.append(("body", f"辖区有承租主体{t.tenants}家，本季度检查{t.inspected}家，发现隐患{t.hazards}个、"
                            f"重大隐患{t.major}个，已整改销号{t.rectified}个，整改率{percent(t.rectification_rate)}。"))
        for index, site in enumerate(review.sites, start=1):
            out.append(("body", f"{index}. {site.site.name}（{site.kind_label}，承租主体{site.tenants}家）：本季度检查"
                                f"{site.inspected}家，发现隐患{site.hazards}个（重大{site.major}个），目前未销号{site.open}个。"))
    else:
        out.append(("body", "辖区内未登记园中园、厂中厂租赁关系。"))
    out.append(("h1", "五、与上季度比较"))
    out.append(("body", f"与{review.previous_name}相比，排摸{f.visited}家（上季度{p.visited}家，{_change(f.visited, p.visited, '家')}），"
                        f"发现隐患{f.hazards}个（上季度{p.hazards}个，{_change(f.hazards, p.hazards, '个')}），"
                        f"重大隐患{f.major}个（上季度{p.major}个，{_change(f.major, p.major, '个')}）；"
                        f"整改率{_rate_change(f.rectification_rate, p.rectification_rate)}，"
                        f"按期整改率{_rate_change(f.on_time_rate, p.on_time_rate)}。"))
    out.append(("h1", "六、下一步工作建议"))
    advice = []
    if f.base > f.visited:
        advice.append(f"对本季度尚未检查的{f.base - f.visited}家主体安排排摸，做到底数全覆盖。")
    if f.overdue_open:
        advice.append(f"对逾期未整改的{f.overdue_open}个隐患逐一督办，仍不整改的移交联合执法。")
    open_major = sum(r.open_major for r in review.businesses)
    if open_major:
        advice.append("对未销号的重大隐患挂牌督办，落实企业主体责任和属地监管责任。")
    if review.sites:
        advice.append("园中园、厂中厂坚持园区（厂区）与承租主体同检，压实出租方安全管理责任。")
    advice.append("下季度继续按“二线三色五查”机制开展排查，动态调整三色风险等级。")
    out += [("body", f"{cn_number(i)}是{text}") for i, text in enumerate(advice, start=1)]
    return Report(title=review.title, paragraphs=out, issuer=review.node.name, day=timezone.localtime(now).date(),
                  sheets=_sheets(review), filename=review.title)


def _sheets(review: Review) -> list[Sheet]:
    f, now = review.figures, review.now
    overview = [
        ["底数（在营主体，家）", f.base], ["排摸（家）", f.visited], ["排摸覆盖率", percent(f.coverage_rate)],
        ["检查（次）", review.inspections], ["隐患（个）", f.hazards], ["重大隐患（个）", f.major],
        ["一般隐患（个）", f.hazards - f.major], ["已整改销号（个）", f.rectified], ["整改率", percent(f.rectification_rate)],
        ["按期整改（个）", f.on_time], ["按期整改率", percent(f.on_time_rate)], ["逾期未整改（个）", f.overdue_open],
    ]
    return [
        Sheet("概况", ["指标", review.name], overview, [22, 14]),
        Sheet("与上季度比较", ["指标", review.name, review.previous_name, "变化"],
              [list(row) for row in review.comparison()], [18, 14, 14, 16]),
        Sheet("按领域", ["领域", "隐患", "重大隐患", "一般隐患", "已整改销号", "整改率", "按期整改", "按期整改率", "逾期未整改"],
              [[r.label, r.hazards, r.major, r.ordinary, r.rectified, percent(r.rectification_rate), r.on_time,
                percent(r.on_time_rate), r.overdue_open] for r in review.by_field], [12, 8, 10, 10, 12, 10, 10, 12, 12]),
        Sheet("按等级", ["等级", "隐患", "已整改销号", "整改率", "按期整改", "按期整改率", "逾期未整改"],
              [[r.label, r.hazards, r.rectified, percent(r.rectification_rate), r.on_time, percent(r.on_time_rate),
                r.overdue_open] for r in review.by_severity], [10, 8, 12, 10, 10, 12, 12]),
        Sheet("逾期未整改", ["隐患编号", "主体", "领域", "等级", "隐患描述", "发现日期", "整改期限", "逾期天数", "状态"],
              [[h.code, h.business.name, h.get_field_display(), h.get_severity_display(), h.description,
                timezone.localtime(h.found_at).date().isoformat(), timezone.localtime(h.deadline_at).date().isoformat(),
                overdue_days(h, now), h.get_state_display()] for h in review.overdue],
              [18, 20, 10, 10, 40, 12, 12, 10, 10]),
        Sheet("重点风险主体", ["主体", "网格", "行业", "风险等级", "本季度隐患", "其中重大", "未销号", "其中重大", "逾期"],
              [[r.business.name, r.grid, r.business.industry, r.colour_label, r.hazards, r.major, r.open, r.open_major,
                r.overdue] for r in review.businesses], [24, 16, 12, 10, 12, 10, 10, 10, 8]),
        Sheet("园中园厂中厂", ["园区/厂区", "类型", "承租主体", "本季度检查", "本季度隐患", "其中重大", "未销号"],
              [[s.site.name, s.kind_label, s.tenants, s.inspected, s.hazards, s.major, s.open] for s in review.sites],
              [24, 10, 10, 12, 12, 10, 10]),
    ]


def review_docx(review: Review) -> bytes:
    return report_docx(document(review))


def review_xlsx(review: Review) -> bytes:
    return report_xlsx(document(review))
