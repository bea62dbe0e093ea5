"""The three cycles of the 红色网格 loop (seed 003): 周集 weekly digest, 月议 monthly deliberation,
季报告 quarter-end item-by-item review that strikes cases off (销号) or carries them over."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
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
from jiedao.cases.workflow import Action
from jiedao.core import audit, scope
from jiedao.core import text as boundary
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.core.scope import subtree_range
from jiedao.org.models import NodeKind, OrgNode

FINISHED_STATES = (State.CLOSED, State.REJECTED)
# Every state that is not finished (with_district included: a case at the district is still open).
OPEN_STATES = tuple(s for s in State.values if s not in FINISHED_STATES)
DIGEST_OPEN_LIMIT = 50
# 月议: a case is "repeated" when at least REPEAT_MIN cases of its category were filed at the
# same building (or, without a building, in the same grid) within REPEAT_MONTHS months up to the
# meeting's month, or when duplicates were merged into it.
REPEAT_MIN = 2
REPEAT_MONTHS = 3


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _cases_under(node: OrgNode):
    return Case.objects.filter(org_path__range=subtree_range(node.path))


# --- 周集 -------------------------------------------------------------------------------------


def week_start_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weekly_digest_generate(*, node: OrgNode, week_start: date, actor: Any = None) -> WeeklyDigest:
    """Build (or rebuild) the digest of one grid or community for the week starting on Monday:
    the week's new requests by area (grids of a community, buildings of a grid), category, tier
    and state, the week's hotspots, and what is still open from before (carried over).

    With an `actor` (someone pressing 重新生成) the scope is checked and the rebuild audited; the
    Monday job runs without one."""
    if node.kind not in (NodeKind.GRID, NodeKind.COMMUNITY, NodeKind.VILLAGE):
        raise DomainError(_("周集按网格或社区（村）生成。"), field="node")
    if actor is not None:
        scope.require(actor, Perm.VIEW_CASES, node.path)
    week_start = week_start_of(week_start)
    begin, end = _local_midnight(week_start), _local_midnight(week_start + timedelta(days=7))
    cases = _cases_under(node).exclude(merged_into__isnull=False)
    new = list(cases.filter(created_at__gte=begin, created_at__lt=end)
               .select_related("category", "grid", "building").order_by("created_at"))
    carried_qs = (cases.filter(created_at__lt=begin).exclude(state__in=FINISHED_STATES)
                  .select_related("category", "grid").order_by("created_at", "id"))
    carried = carried_qs.count()
    by_area = (Counter((c.building.name if c.building else "（未标楼栋）") for c in new) if node.kind == NodeKind.GRID
               else Counter((c.grid.name if c.grid else "（社区直接登记）") for c in new))
    now = timezone.now()
    data = {
        "new": len(new),
        "carried_over": carried,
        "still_open": sum(1 for c in new if c.state not in FINISHED_STATES),
        "area_level": "building" if node.kind == NodeKind.GRID else "grid",
        "by_area": by_area.most_common(),
        "by_category": Counter(c.category.name if c.category else "未分类" for c in new).most_common(),
        "by_tier": dict(Counter(str(Tier(c.tier).label) if c.tier else "未分流" for c in new)),
        "by_state": dict(Counter(str(State(c.state).label) for c in new)),
        "cases": [{"id": c.pk, "ticket": c.ticket, "title": c.title, "state": str(State(c.state).label),
                   "category": c.category.name if c.category else "",
                   "area": (c.building.name if c.building else "") if node.kind == NodeKind.GRID
                   else (c.grid.name if c.grid else "")} for c in new[:100]],
        "open_cases": [{"id": c.pk, "ticket": c.ticket, "title": c.title, "state": str(State(c.state).label),
                        "category": c.category.name if c.category else "",
                        "grid": c.grid.name if c.grid else "", "created": timezone.localdate(c.created_at).isoformat(),
                        "overdue": bool(c.deadline_at and c.deadline_at < now)}
                       for c in carried_qs[:DIGEST_OPEN_LIMIT]],
        "hotspots": _week_hotspots(node, week_start),
    }
    # Only the write in the transaction: on SQLite a transaction holds the one write lock from
    # its start, and the Monday run builds a digest for every grid and community back to back.
    with transaction.atomic():
        digest, created = WeeklyDigest.objects.update_or_create(
            node=node, week_start=week_start, defaults={"data": data, "generated_at": now}
        )
        if actor is not None:
            audit.record(actor=actor, action="cases.digest.generate", obj=digest,
                         after={"node": node.name, "week_start": week_start.isoformat(), "new": len(new),
                                "carried_over": carried, "rebuilt": not created})
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


def month_shift(month: date, delta: int) -> date:
    """The first day of the month `delta` months after `month`."""
    index = month.year * 12 + month.month - 1 + delta
    return date(index // 12, index % 12 + 1, 1)


def _agenda_candidates(community: OrgNode, month: date) -> dict[int, list[str]]:
    """Open cases of the community the month's meeting should discuss, with why: 疑难 (marked
    difficult), 超期 (overdue), 重复反映 (REPEAT_MIN or more cases of one category at one building —
    or, without a building, in one grid — within REPEAT_MONTHS months up to the meeting's month;
    or duplicates merged into it; or requests repeating it, as the text reader marks them). Merged-away cases are never listed (their survivor is)."""
    reasons: dict[int, list[str]] = {}
    base = _cases_under(community).filter(merged_into__isnull=True)
    open_cases = base.filter(state__in=OPEN_STATES)
    for pk, difficult in (open_cases.filter(Q(difficult=True) | Q(sla_status="overdue"))
                          .order_by("created_at", "id").values_list("pk", "difficult")):
        reasons.setdefault(pk, []).append("疑难" if difficult else "超期")
    begin, end = _local_midnight(month_shift(month, 1 - REPEAT_MONTHS)), _local_midnight(month_shift(month, 1))
    recent = base.filter(created_at__gte=begin, created_at__lt=end, category__isnull=False).exclude(
        state=State.REJECTED)
    for area, area_label in (("building", "同楼栋"), ("grid", "同网格")):
        rows = recent.filter(**{f"{area}__isnull": False})
        if area == "grid":
            rows = rows.filter(building__isnull=True)
        cells = {(r[area], r["category_id"]): r["n"] for r in
                 rows.order_by().values(area, "category_id").annotate(n=Count("id")).filter(n__gte=REPEAT_MIN)}
        if not cells:
            continue
        for pk, key, category_id in (rows.filter(state__in=OPEN_STATES, **{f"{area}__in": {a for a, _c in cells}})
                                     .order_by("created_at", "id").values_list("pk", area, "category_id")):
            count = cells.get((key, category_id))
            if count:
                reasons.setdefault(pk, []).append(f"重复反映（{area_label}同类{count}件）")
    for pk, merged in (open_cases.annotate(merged_count=Count("merged")).filter(merged_count__gt=0)
                       .order_by("created_at", "id").values_list("pk", "merged_count")):
        reasons.setdefault(pk, []).append(f"重复反映（并入{merged}件）")
    # requests residents repeated (same reporter, re-post, chase words), as the text reader marks them
    repeated = reading.reader().repeats(list(open_cases.order_by("created_at", "id").values_list("pk", flat=True)))
    for pk, times in repeated.items():
        reasons.setdefault(pk, []).append(f"重复反映（再次反映{times}次）")
    return reasons


@transaction.atomic
def deliberation_prepare(*, actor: Any, community: OrgNode, month: date) -> Deliberation:
    """Open the month's meeting and build its agenda from the community's difficult, overdue and
    repeated open cases (see _agenda_candidates). Called again on a meeting in preparation, it
    adds the cases that became candidates since (cases removed by hand come back only then)."""
    if community.kind not in (NodeKind.COMMUNITY, NodeKind.VILLAGE):
        raise DomainError(_("月议按社区（村）召开。"), field="community")
    scope.require(actor, Perm.REPORT_CASES, community.path, view_perm=Perm.VIEW_CASES)
    month = month.replace(day=1)
    meeting, created = Deliberation.objects.get_or_create(community=community, month=month)
    if meeting.status == Deliberation.Status.HELD:
        raise DomainError(_("本月月议已召开，议程不能再变更。"), field="month")
    listed = set(meeting.items.values_list("case_id", flat=True))
    order = meeting.items.count()
    added = 0
    for case_id, why in _agenda_candidates(community, month).items():
        if case_id in listed:
            continue
        order += 1
        added += 1
        DeliberationItem.objects.create(meeting=meeting, case_id=case_id, why="、".join(why)[:100], sort_order=order)
    if created or added:
        audit.record(actor=actor, action="cases.deliberation.create" if created else "cases.deliberation.agenda",
                     obj=meeting, after={"community": community.name, "month": month.isoformat(), "added": added,
                                         "items": order})
    return meeting


def _require_draft(meeting: Deliberation, field: str) -> None:
    if meeting.status == Deliberation.Status.HELD:
        raise DomainError(_("本月月议已召开，议程不能再变更。"), field=field)


@transaction.atomic
def deliberation_add_case(*, actor: Any, meeting: Deliberation, case: Case, why: str = "社区提议") -> DeliberationItem:
    scope.require(actor, Perm.REPORT_CASES, meeting.community.path, view_perm=Perm.VIEW_CASES)
    _require_draft(meeting, "case")
    if not case.org_path.startswith(meeting.community.path):
        raise DomainError(_("该事项不属于本社区。"), field="case")
    item, created = DeliberationItem.objects.get_or_create(
        meeting=meeting, case=case,
        defaults={"why": boundary.clean(why or "社区提议", field="why").strip()[:100], "sort_order": meeting.items.count() + 1},
    )
    if created:
        audit.record(actor=actor, action="cases.deliberation.item_add", obj=meeting,
                     after={"case": case.ticket, "why": item.why})
    return item


@transaction.atomic
def deliberation_remove_item(*, actor: Any, item: DeliberationItem) -> None:
    """Take a case off the agenda of a meeting still in preparation."""
    meeting = item.meeting
    scope.require(actor, Perm.REPORT_CASES, meeting.community.path, view_perm=Perm.VIEW_CASES)
    _require_draft(meeting, "item")
    audit.record(actor=actor, action="cases.deliberation.item_remove", obj=meeting,
                 before={"case": item.case.ticket, "why": item.why, "decision": item.decision})
    item.delete()


def _clean_attendees(attendees: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The attendance rows with a name ({name, role}); a row with only a role is refused."""
    kept = []
    for index, person in enumerate(attendees, start=1):
        name, role = boundary.clean(str(person.get("name", "")), field="attendees").strip()[:64], boundary.clean(str(person.get("role", "")), field="attendees").strip()[:32]
        if not name and not role:
            continue
        if not name:
            raise DomainError(_("第 %(index)s 位参会人员缺少姓名。") % {"index": index}, field="attendees")
        kept.append({"name": name, "role": role})
    return kept


def _owner_user(community: OrgNode, value: Any, case: Case) -> Any:
    """The owner account of a decision: one of the community's staff or grid workers, who can
    open the case (the community's staff, or a grid worker of the case's grid)."""
    from jiedao.cases.cycles.selectors import owner_candidates

    if value in (None, ""):
        return None
    pk = getattr(value, "pk", value)
    user = owner_candidates(community).filter(pk=pk).first() if str(pk).isdigit() else None
    if user is None:
        raise DomainError(_("责任人须是本社区（村）的工作人员或网格员。"), field="decisions")
    if not scope.path_allows(user, Perm.VIEW_CASES, case.org_path):
        raise DomainError(_("%(name)s 看不到事项 %(ticket)s：请选本社区（村）的工作人员或该事项所在网格的网格员。")
                          % {"name": user.get_full_name(), "ticket": case.ticket}, field="decisions")
    return user


@transaction.atomic
def deliberation_update(
    *, actor: Any, meeting: Deliberation, held_at: datetime | None = None, location: str = "", host: str = "",
    attendees: list[dict[str, Any]] | None = None, summary: str = "", decisions: dict[int, dict[str, Any]] | None = None,
) -> Deliberation:
    """Save the record of a meeting in preparation: time, place, host, attendance, minutes and
    per agenda item ONE decision with its owner (an account of the community's staff or grid
    workers, `owner_user`, or a name, `owner`) and a deadline (`due_date`). A decision needs both."""
    scope.require(actor, Perm.REPORT_CASES, meeting.community.path, view_perm=Perm.VIEW_CASES)
    if meeting.status == Deliberation.Status.HELD:
        raise DomainError(_("本月月议已召开，纪要不能再修改。"), field="status")
    items = {item.pk: item for item in meeting.items.select_related("case")}
    for item_id, decision in (decisions or {}).items():
        item = items.get(int(item_id))
        if item is None:
            raise DomainError(_("议程中没有该事项。"), field="decisions")
        owner_user = _owner_user(meeting.community, decision.get("owner_user"), item.case)
        item.decision = boundary.clean(str(decision.get("decision", "") or ""), field="decisions").strip()[:2000]
        item.owner_user = owner_user
        item.owner = (owner_user.get_full_name() if owner_user else boundary.clean(str(decision.get("owner", "") or ""), field="decisions").strip())[:64]
        item.due_date = decision.get("due_date") or None
        if item.decision and not item.owner:
            raise DomainError(_("事项 %(ticket)s 需要跟进责任人。") % {"ticket": item.case.ticket}, field="decisions")
        if item.decision and not item.due_date:
            raise DomainError(_("事项 %(ticket)s 需要完成时限。") % {"ticket": item.case.ticket}, field="decisions")
        item.save(update_fields=["decision", "owner", "owner_user", "due_date"])
    meeting.held_at = held_at
    meeting.location = boundary.clean(location or "", field="location").strip()[:100]
    meeting.host = boundary.clean(host or "", field="host").strip()[:64]
    meeting.attendees = _clean_attendees(attendees or [])
    meeting.summary = boundary.clean(summary or "", field="summary").strip()
    meeting.save()
    audit.record(actor=actor, action="cases.deliberation.update", obj=meeting,
                 after={"attendees": len(meeting.attendees),
                        "decisions": sum(1 for i in items.values() if i.decision)})
    return meeting


@transaction.atomic
def deliberation_hold(*, actor: Any, meeting: Deliberation) -> Deliberation:
    """Mark a recorded meeting held. Each decision flows back onto its case (an audit event on the
    case, and the owner and deadline on the case page) and into its owner's task list."""
    scope.require(actor, Perm.REPORT_CASES, meeting.community.path, view_perm=Perm.VIEW_CASES)
    meeting = Deliberation.objects.select_for_update().get(pk=meeting.pk)
    if meeting.status == Deliberation.Status.HELD:
        raise DomainError(_("本月月议已召开。"), field="status")
    if meeting.held_at is None:
        raise DomainError(_("请填写召开时间。"), field="held_at")
    if not meeting.attendees:
        raise DomainError(_("请填写参会人员（居民代表等）。"), field="attendees")
    items = list(meeting.items.select_related("case"))
    for item in items:
        if item.decision:
            audit.record(actor=actor, action="cases.case.deliberated", obj=item.case, reason=item.decision,
                         after={"meeting": meeting.pk, "owner": item.owner,
                                "due_date": item.due_date.isoformat() if item.due_date else None})
    meeting.status = Deliberation.Status.HELD
    meeting.save(update_fields=["status", "updated_at"])
    owners = {item.owner_user_id for item in items if item.decision and item.owner_user_id}
    if owners:  # their navigation shows "我的月议事项" from the next page on
        from jiedao.cases.cycles.selectors import forget_decision_owners

        transaction.on_commit(lambda: forget_decision_owners(owners))
    audit.record(actor=actor, action="cases.deliberation.record", obj=meeting,
                 after={"attendees": len(meeting.attendees), "decisions": sum(1 for i in items if i.decision)})
    return meeting


@transaction.atomic
def deliberation_record(
    *, actor: Any, meeting: Deliberation, held_at: datetime, location: str, host: str,
    attendees: list[dict[str, str]], summary: str, decisions: dict[int, dict[str, Any]],
) -> Deliberation:
    """Record the meeting and mark it held in one step (the API): deliberation_update, then
    deliberation_hold."""
    deliberation_update(actor=actor, meeting=meeting, held_at=held_at, location=location, host=host,
                        attendees=attendees, summary=summary, decisions=decisions)
    return deliberation_hold(actor=actor, meeting=meeting)


@transaction.atomic
def deliberation_item_complete(*, actor: Any, item: DeliberationItem, done: bool = True) -> DeliberationItem:
    """The owner (or the community's staff) marks a decision carried out (completed_at), or not yet."""
    meeting = item.meeting
    if not (item.owner_user_id and getattr(actor, "pk", None) == item.owner_user_id):
        scope.require(actor, Perm.REPORT_CASES, meeting.community.path, view_perm=Perm.VIEW_CASES)
    if meeting.status != Deliberation.Status.HELD or not item.decision:
        raise DomainError(_("该事项还没有月议议定意见。"), field="item")
    before = item.completed_at.isoformat() if item.completed_at else None
    item.completed_at = timezone.now() if done else None
    item.save(update_fields=["completed_at"])
    audit.record(actor=actor, action="cases.deliberation.item_done" if done else "cases.deliberation.item_undone",
                 obj=item.case, reason=item.decision[:200],
                 before={"completed_at": before},
                 after={"meeting": meeting.pk, "completed_at": item.completed_at.isoformat() if done else None})
    return item


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
    reason = boundary.clean(reason or "", field="reason").strip()[:500]
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
    """The numbers of the quarterly report, all taken from the data: the review's outcome, and
    the community's figures for the quarter as the dashboard reads them (reports.figures_of:
    [key, label, value] rows of counts, rates and resolution levels)."""
    from jiedao.cases.cycles.reports import scope_figures

    start, end = quarter_bounds(review.year, review.quarter)
    items = list(review.items.select_related("case__category"))
    verdicts = Counter(i.verdict for i in items)
    return {
        "total": len(items),
        "struck_off": verdicts.get(ReviewItem.Verdict.STRUCK_OFF, 0),
        "carried_over": verdicts.get(ReviewItem.Verdict.CARRIED_OVER, 0),
        "by_category": Counter(i.case.category.name if i.case.category else "未分类" for i in items).most_common(),
        "by_tier": dict(Counter(str(Tier(i.case.tier).label) if i.case.tier else "未分流" for i in items)),
        **scope_figures(review.community.path, start, end),
    }
