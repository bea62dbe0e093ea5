"""The three cycles of the 红色网格 loop (seed 003): 周集 weekly digest, 月议 monthly deliberation,
季报告 quarter-end item-by-item review that strikes cases off (销号) or carries them over."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.cases import reading
from jiedao.cases.models import (
    Case,
    Deliberation,
    DeliberationItem,
    QuarterlyReview,
    ReviewItem,
    State,
    Tier,
    WeeklyDigest,
)
from jiedao.cases.statistics import stats
from jiedao.cases.workflow import Action
from jiedao.core import audit, scope
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.core.scope import subtree_range
from jiedao.org.models import NodeKind, OrgNode

OPEN_STATES = (State.REPORTED, State.ACCEPTED, State.DISPATCHED, State.ACKNOWLEDGED, State.IN_PROGRESS,
               State.RESOLVED, State.VERIFIED)
FINISHED_STATES = (State.CLOSED, State.REJECTED)


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _cases_under(node: OrgNode):
    return Case.objects.filter(org_path__range=subtree_range(node.path))


# --- 周集 -------------------------------------------------------------------------------------


def week_start_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


@transaction.atomic
def weekly_digest_generate(*, node: OrgNode, week_start: date, actor: Any = None) -> WeeklyDigest:
    """Build (or rebuild) the digest of one grid or community for the week starting on Monday."""
    if node.kind not in (NodeKind.GRID, NodeKind.COMMUNITY, NodeKind.VILLAGE):
        raise DomainError(_("周集按网格或社区（村）生成。"), field="node")
    if actor is not None:
        scope.require(actor, Perm.VIEW_CASES, node.path)
    week_start = week_start_of(week_start)
    begin, end = _local_midnight(week_start), _local_midnight(week_start + timedelta(days=7))
    cases = _cases_under(node)
    new = list(cases.filter(created_at__gte=begin, created_at__lt=end)
               .select_related("category").order_by("created_at"))
    carried = cases.filter(created_at__lt=begin).exclude(state__in=FINISHED_STATES).count()
    data = {
        "new": len(new),
        "carried_over": carried,
        "by_category": Counter(c.category.name if c.category else "未分类" for c in new).most_common(),
        "by_tier": dict(Counter(str(Tier(c.tier).label) if c.tier else "未分流" for c in new)),
        "by_state": dict(Counter(str(State(c.state).label) for c in new)),
        "cases": [{"id": c.pk, "ticket": c.ticket, "title": c.title, "state": str(State(c.state).label),
                   "category": c.category.name if c.category else ""} for c in new[:100]],
        "hotspots": _week_hotspots(node, week_start),
    }
    digest, _created = WeeklyDigest.objects.update_or_create(
        node=node, week_start=week_start, defaults={"data": data, "generated_at": timezone.now()}
    )
    return digest


def _week_hotspots(node: OrgNode, week_start: date) -> list[dict[str, Any]]:
    """本周热点 of the digest: clusters of same-category requests per building (a grid's digest)
    or per grid (a community's), from the installed reader (jiedao.cases.reading)."""
    level = "building" if node.kind == NodeKind.GRID else "grid"
    return reading.reader().hotspot_rows(node.path, period="week", level=level, day=week_start, limit=5)


def weekly_digests_generate_all(week_start: date | None = None) -> int:
    """The scheduled run (Mondays): last week's digest for every grid and community."""
    week_start = week_start or week_start_of(timezone.localdate() - timedelta(days=7))
    count = 0
    for node in OrgNode.objects.filter(kind__in=(NodeKind.GRID, NodeKind.COMMUNITY, NodeKind.VILLAGE), is_active=True):
        weekly_digest_generate(node=node, week_start=week_start)
        count += 1
    return count


# --- 月议 -------------------------------------------------------------------------------------


@transaction.atomic
def deliberation_prepare(*, actor: Any, community: OrgNode, month: date) -> Deliberation:
    """Open the month's meeting and build its agenda from difficult or overdue open cases."""
    if community.kind not in (NodeKind.COMMUNITY, NodeKind.VILLAGE):
        raise DomainError(_("月议按社区（村）召开。"), field="community")
    scope.require(actor, Perm.REPORT_CASES, community.path, view_perm=Perm.VIEW_CASES)
    month = month.replace(day=1)
    meeting, created = Deliberation.objects.get_or_create(community=community, month=month)
    if meeting.status == Deliberation.Status.HELD:
        raise DomainError(_("本月月议已召开，议程不能再变更。"), field="month")
    candidates = (
        _cases_under(community).filter(state__in=OPEN_STATES)
        .filter(models_q_difficult_or_overdue())
        .exclude(deliberations__meeting=meeting)
        .order_by("created_at")
    )
    order = meeting.items.count()
    for case in candidates:
        order += 1
        why = "疑难" if case.difficult else "超期"
        DeliberationItem.objects.create(meeting=meeting, case=case, why=why, sort_order=order)
    if created:
        audit.record(actor=actor, action="cases.deliberation.create", obj=meeting,
                     after={"community": community.name, "month": month.isoformat(), "items": order})
    return meeting


def models_q_difficult_or_overdue():
    from django.db.models import Q

    return Q(difficult=True) | Q(sla_status="overdue")


@transaction.atomic
def deliberation_add_case(*, actor: Any, meeting: Deliberation, case: Case, why: str = "社区提议") -> DeliberationItem:
    scope.require(actor, Perm.REPORT_CASES, meeting.community.path, view_perm=Perm.VIEW_CASES)
    if not case.org_path.startswith(meeting.community.path):
        raise DomainError(_("该事项不属于本社区。"), field="case")
    item, _created = DeliberationItem.objects.get_or_create(
        meeting=meeting, case=case, defaults={"why": why[:100], "sort_order": meeting.items.count() + 1}
    )
    return item


@transaction.atomic
def deliberation_record(
    *, actor: Any, meeting: Deliberation, held_at: datetime, location: str, host: str,
    attendees: list[dict[str, str]], summary: str, decisions: dict[int, dict[str, Any]],
) -> Deliberation:
    """Record the meeting: who attended, and per item the decision, follow-up owner and date.
    Each decision flows back onto its case (audit event on the case; shown on the case page)."""
    scope.require(actor, Perm.REPORT_CASES, meeting.community.path, view_perm=Perm.VIEW_CASES)
    if not attendees:
        raise DomainError(_("请填写参会人员（居民代表等）。"), field="attendees")
    for index, person in enumerate(attendees, start=1):
        if not str(person.get("name", "")).strip():
            raise DomainError(_("第 %(index)s 位参会人员缺少姓名。") % {"index": index}, field="attendees")
    items = {item.pk: item for item in meeting.items.select_related("case")}
    for item_id, decision in decisions.items():
        item = items.get(int(item_id))
        if item is None:
            raise DomainError(_("议程中没有该事项。"), field="decisions")
        item.decision = str(decision.get("decision", "")).strip()[:2000]
        item.owner = str(decision.get("owner", "")).strip()[:64]
        item.due_date = decision.get("due_date") or None
        if item.decision and not item.owner:
            raise DomainError(_("事项 %(ticket)s 需要跟进责任人。") % {"ticket": item.case.ticket}, field="decisions")
        item.save()
        if item.decision:
            audit.record(actor=actor, action="cases.case.deliberated", obj=item.case, reason=item.decision,
                         after={"meeting": meeting.pk, "owner": item.owner,
                                "due_date": item.due_date.isoformat() if hasattr(item.due_date, "isoformat") else item.due_date})
    meeting.held_at, meeting.location, meeting.host = held_at, location.strip()[:100], host.strip()[:64]
    meeting.attendees = [{"name": str(p["name"]).strip()[:64], "role": str(p.get("role", "")).strip()[:32]}
                         for p in attendees]
    meeting.summary, meeting.status = summary.strip(), Deliberation.Status.HELD
    meeting.save()
    audit.record(actor=actor, action="cases.deliberation.record", obj=meeting,
                 after={"attendees": len(meeting.attendees), "decisions": sum(1 for i in items.values() if i.decision)})
    return meeting


# --- 季报告 -----------------------------------------------------------------------------------


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    if quarter not in (1, 2, 3, 4):
        raise DomainError(_("季度应为 1 到 4。"), field="quarter")
    start = date(year, 3 * quarter - 2, 1)
    end = date(year + (quarter == 4), 1 if quarter == 4 else 3 * quarter + 1, 1)
    return start, end


@transaction.atomic
def quarterly_review_prepare(*, actor: Any, community: OrgNode, year: int, quarter: int) -> QuarterlyReview:
    """List every case of the quarter (filed in it, or still open from before) for evaluation."""
    if community.kind not in (NodeKind.COMMUNITY, NodeKind.VILLAGE):
        raise DomainError(_("季度评估按社区（村）进行。"), field="community")
    scope.require(actor, Perm.REPORT_CASES, community.path, view_perm=Perm.VIEW_CASES)
    start, end = quarter_bounds(year, quarter)
    review, created = QuarterlyReview.objects.get_or_create(community=community, year=year, quarter=quarter)
    if review.status == QuarterlyReview.Status.FINALIZED:
        raise DomainError(_("该季度评估已定稿。"), field="quarter")
    cases = _cases_under(community).filter(created_at__lt=_local_midnight(end)).exclude(merged_into__isnull=False)
    in_quarter = cases.filter(created_at__gte=_local_midnight(start))
    carried = cases.filter(created_at__lt=_local_midnight(start)).exclude(state__in=FINISHED_STATES)
    existing = set(review.items.values_list("case_id", flat=True))
    ReviewItem.objects.bulk_create(
        [ReviewItem(review=review, case_id=pk) for pk in
         set(in_quarter.values_list("pk", flat=True)) | set(carried.values_list("pk", flat=True)) if pk not in existing]
    )
    if created:
        audit.record(actor=actor, action="cases.review.create", obj=review,
                     after={"community": community.name, "year": year, "quarter": quarter})
    return review


STRIKABLE = (State.VERIFIED, State.CLOSED, State.REJECTED)


@transaction.atomic
def review_item_set(*, actor: Any, item: ReviewItem, verdict: str, reason: str = "") -> ReviewItem:
    review = item.review
    scope.require(actor, Perm.REPORT_CASES, review.community.path, view_perm=Perm.VIEW_CASES)
    if review.status == QuarterlyReview.Status.FINALIZED:
        raise DomainError(_("该季度评估已定稿。"), field="verdict")
    if verdict not in (ReviewItem.Verdict.STRUCK_OFF, ReviewItem.Verdict.CARRIED_OVER):
        raise DomainError(_("请选择“销号”或“结转下季”。"), field="verdict")
    reason = (reason or "").strip()[:500]
    if verdict == ReviewItem.Verdict.STRUCK_OFF and item.case.state not in STRIKABLE:
        raise DomainError(
            _("事项 %(ticket)s 尚未核查办结（%(state)s），不能销号。")
            % {"ticket": item.case.ticket, "state": State(item.case.state).label},
            field="verdict",
        )
    if verdict == ReviewItem.Verdict.CARRIED_OVER and not reason:
        raise DomainError(_("结转下季需说明原因。"), field="reason")
    item.verdict, item.reason = verdict, reason
    item.save()
    audit.record(actor=actor, action="cases.review.item", obj=item.case, reason=reason,
                 after={"review": review.pk, "verdict": verdict})
    return item


@transaction.atomic
def quarterly_review_finalize(*, actor: Any, review: QuarterlyReview) -> QuarterlyReview:
    """Close (销号) every struck-off case still open, freeze the figures, and lock the review."""
    from jiedao.cases.services import case_act

    scope.require(actor, Perm.REPORT_CASES, review.community.path, view_perm=Perm.VIEW_CASES)
    pending = review.items.filter(verdict="").select_related("case")
    if pending.exists():
        tickets = _("、").join(i.case.ticket for i in pending[:5])
        raise DomainError(
            _("还有 %(count)s 件事项未评估（如 %(tickets)s）。") % {"count": pending.count(), "tickets": tickets},
            field="items",
        )
    for item in review.items.filter(verdict=ReviewItem.Verdict.STRUCK_OFF, case__state=State.VERIFIED):
        case_act(actor=actor, case=item.case, action=Action.CLOSE, reason=f"{review} 销号")
    review.figures = quarterly_figures(review)
    review.status, review.finalized_at = QuarterlyReview.Status.FINALIZED, timezone.now()
    review.save()
    audit.record(actor=actor, action="cases.review.finalize", obj=review, after=review.figures)
    return review


def quarterly_figures(review: QuarterlyReview) -> dict[str, Any]:
    """The numbers of the quarterly report, all taken from the data."""
    start, end = quarter_bounds(review.year, review.quarter)
    items = list(review.items.select_related("case__category"))
    verdicts = Counter(i.verdict for i in items)
    rates = stats.totals(review.community.path, start, end)
    return {
        "total": len(items),
        "struck_off": verdicts.get(ReviewItem.Verdict.STRUCK_OFF, 0),
        "carried_over": verdicts.get(ReviewItem.Verdict.CARRIED_OVER, 0),
        "by_category": Counter(i.case.category.name if i.case.category else "未分类" for i in items).most_common(),
        "by_tier": dict(Counter(str(Tier(i.case.tier).label) if i.case.tier else "未分流" for i in items)),
        "levels": stats.resolution_levels(review.community.path, start, end),
        "rates": rates.rates(),
        "counts": rates.counts,
    }
