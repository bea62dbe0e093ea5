"""Pages of the 红色网格 cycle (seed 003): 周集 (weekly digest) → 月议 (monthly deliberation) →
季末逐项评估销号 (quarter-end review) → 季报告 (quarterly report), phone first.

Thin like the other pages: the selectors of jiedao.cases.cycles read (scoped with Perm.VIEW_CASES
through jiedao.core.scope), the services write (keyword-only, atomic, audited, with the rules the
API enforces), and reports renders the documents. A place or an object outside the viewer's scope
answers 404; a write the viewer's role lacks answers 403 with the service's Chinese message; a
refused write re-renders the page with the message (400).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from jiedao.cases import selectors as case_selectors
from jiedao.cases.api_common import DOCX, XLSX, file_response
from jiedao.cases.cycles import reports, selectors
from jiedao.cases.cycles import services as cycles
from jiedao.cases.models import Deliberation, QuarterlyReview, ReviewItem
from jiedao.core import scope
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.core.views import htmx_aware, paginate, render_error
from jiedao.org import selectors as org_selectors
from jiedao.org.models import NodeKind

BLANK_ATTENDEE_ROWS = 3
MIN_ATTENDEE_ROWS = 5
REVIEW_PAGE_SIZE = 40
QUARTER_CHOICES = 6
# Suggestions for the attendance rows' 身份 (data, stored as typed).
ATTENDEE_ROLES = ("居民代表", "党员代表", "楼栋长", "社区书记", "社区工作人员", "网格员", "物业代表", "业委会代表",
                  "辖区单位代表", "街道干部")


def require_cycle_pages(view: Callable) -> Callable:
    """The cycle's pages are for people who see the cases of a place (grid, community, sub-district)."""

    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not scope.has_perm_anywhere(request.user, Perm.VIEW_CASES):
            raise PermissionDenied(_("您没有查看红色网格工作的权限。"))
        return view(request, *args, **kwargs)

    return wrapped


def _pick(request: HttpRequest, places: list, kinds: tuple[str, ...], name: str = "node"):
    """The place named by ?node= (in the user's case scope, else 404), or the first of `places`."""
    raw = request.GET.get(name, "") or request.POST.get(name, "")
    if raw:
        if not raw.isdigit():
            raise Http404(_("未找到该对象。"))
        return selectors.place_get(request.user, raw, kinds)
    return places[0] if places else None


def _parse_date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip()[:10]) if raw else None
    except ValueError:
        return None


def _parse_month(raw: str) -> date | None:
    match = re.fullmatch(r"(\d{4})-(\d{1,2})", (raw or "").strip())
    if not match or not (1 <= int(match[2]) <= 12) or not (2000 <= int(match[1]) <= 2100):
        return None
    return date(int(match[1]), int(match[2]), 1)


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


def _can_write(user: Any, node) -> bool:
    return scope.path_allows(user, Perm.REPORT_CASES, node.path)


# --- 周集 -----------------------------------------------------------------------------------------


@require_cycle_pages
@require_GET
def weekly(request: HttpRequest) -> HttpResponse:
    """周集 of one grid or community the user holds, week by week (default: last week, the one
    the Monday job generates)."""
    places = list(selectors.cycle_places(request.user, selectors.DIGEST_KINDS))
    node = _pick(request, places, selectors.DIGEST_KINDS)
    if node is None:
        raise PermissionDenied(_("您负责的范围内没有网格或社区（村）。"))
    today = timezone.localdate()
    week_start = cycles.week_start_of(_parse_date(request.GET.get("week", "")) or today - timedelta(days=7))
    digest = selectors.digest_list(request.user, node=node, week_start=week_start).first()
    recent = list(selectors.digest_list(request.user, node=node).values_list("week_start", flat=True)[:8])
    this_week = cycles.week_start_of(today)
    context = {
        "places": org_selectors.place_labels(places), "node": node, "digest": digest, "data": digest.data if digest else {},
        "week_start": week_start, "week_end": week_start + timedelta(days=6),
        "previous_week": week_start - timedelta(days=7),
        "next_week": week_start + timedelta(days=7) if week_start < this_week else None,
        "this_week": this_week, "is_current": week_start == this_week, "recent": recent,
        "section": "weekly",
    }
    return render(request, "cases/cycles/weekly.html", context)


@require_cycle_pages
@require_POST
def weekly_generate(request: HttpRequest) -> HttpResponse:
    places = list(selectors.cycle_places(request.user, selectors.DIGEST_KINDS))
    node = _pick(request, places, selectors.DIGEST_KINDS)
    if node is None:
        raise Http404(_("未找到该对象。"))
    week = _parse_date(request.POST.get("week", "")) or timezone.localdate()
    try:
        digest = cycles.weekly_digest_generate(node=node, week_start=week, actor=request.user)
    except DomainError as exc:
        return render_error(request, exc)
    messages.success(request, _("已重新生成 %(node)s 的周集。") % {"node": node.name})
    return redirect(f"{reverse('cases:cycles_weekly')}?node={node.pk}&week={digest.week_start.isoformat()}")


# --- 月议 -----------------------------------------------------------------------------------------


@require_cycle_pages
@require_GET
def meetings(request: HttpRequest) -> HttpResponse:
    """A community's 月议: the meetings held and in preparation, and preparing this month's."""
    places = list(selectors.cycle_places(request.user, selectors.COMMUNITY_KINDS))
    community = _pick(request, places, selectors.COMMUNITY_KINDS, "community")
    if community is None:
        if selectors.decisions_owned(request.user).exists():
            return redirect("cases:cycles_decisions")
        raise PermissionDenied(_("月议由社区（村）召开，您负责的范围内没有社区（村）。"))
    month = timezone.localdate().replace(day=1)
    context = {
        "places": org_selectors.place_labels(places), "community": community,
        "meetings": selectors.deliberation_list(request.user, community=community),
        "can_write": _can_write(request.user, community), "this_month": month,
        "section": "meetings",
    }
    return render(request, "cases/cycles/meetings.html", context)


@require_cycle_pages
@require_POST
def meeting_prepare(request: HttpRequest) -> HttpResponse:
    places = list(selectors.cycle_places(request.user, selectors.COMMUNITY_KINDS))
    community = _pick(request, places, selectors.COMMUNITY_KINDS, "community")
    if community is None:
        raise Http404(_("未找到该对象。"))
    month = _parse_month(request.POST.get("month", ""))
    if month is None:
        return render_error(request, DomainError(_("请选择月份，如 2026-03。"), field="month"))
    existing = selectors.deliberation_list(request.user, community=community, month=month).first()
    if existing is not None and existing.status == Deliberation.Status.HELD:
        return redirect("cases:cycles_meeting", pk=existing.pk)
    try:
        meeting = cycles.deliberation_prepare(actor=request.user, community=community, month=month)
    except DomainError as exc:
        return render_error(request, exc)
    messages.success(request, _("议程已按规则生成，共 %(n)s 项；可再手动增删。") % {"n": meeting.items.count()})
    return redirect("cases:cycles_meeting", pk=meeting.pk)


def _attendee_rows(attendees: list[dict[str, str]]) -> list[dict[str, str]]:
    rows = [dict(a) for a in attendees]
    rows += [{"name": "", "role": ""} for _ in range(max(BLANK_ATTENDEE_ROWS, MIN_ATTENDEE_ROWS - len(rows)))]
    return rows


def _posted_record(request: HttpRequest, items: list) -> dict[str, Any]:
    """The meeting form as posted: time, place, host, attendance rows, minutes and decisions."""
    post = request.POST
    held_at = None
    raw = post.get("held_at", "").strip()
    if raw:
        try:
            held_at = timezone.make_aware(datetime.fromisoformat(raw))
        except ValueError:
            held_at = "invalid"
    names, roles = post.getlist("attendee_name"), post.getlist("attendee_role")
    attendees = [{"name": n, "role": r} for n, r in zip(names, roles + [""] * (len(names) - len(roles)), strict=False)]
    decisions = {}
    for item in items:
        due_raw = post.get(f"due_{item.pk}", "")
        decisions[item.pk] = {
            "decision": post.get(f"decision_{item.pk}", ""),
            "owner_user": post.get(f"owner_{item.pk}", ""),
            "due_date": _parse_date(due_raw),
            "due_raw": due_raw,
        }
    return {"held_at": held_at, "location": post.get("location", ""), "host": post.get("host", ""),
            "attendees": attendees, "summary": post.get("summary", ""), "decisions": decisions}


def _meeting_page(request: HttpRequest, meeting: Deliberation, *, posted: dict[str, Any] | None = None,
                  error: str = "", error_field: str = "", status: int = 200) -> HttpResponse:
    items = list(selectors.agenda(meeting))
    can_write = _can_write(request.user, meeting.community)
    editable = can_write and meeting.status == Deliberation.Status.DRAFT
    owners = selectors.owner_choices(meeting.community) if editable else []
    for item in items:
        # the candidates who can open the case: the community's staff, the case's grid workers
        item.owners = [(pk, label) for pk, label, paths in owners
                       if any(item.case.org_path.startswith(path) for path in paths)]
        entry = (posted or {}).get("decisions", {}).get(item.pk)
        if entry is not None:
            item.form_decision, item.form_owner = entry["decision"], str(entry["owner_user"])
            item.form_due = entry["due_raw"]
        else:
            item.form_decision, item.form_owner = item.decision, str(item.owner_user_id or "")
            item.form_due = item.due_date.isoformat() if item.due_date else ""
        item.due_error = error_field == f"due_{item.pk}"
    if posted is not None:
        held_at = posted["held_at"]
        form = {"held_at": request.POST.get("held_at", ""), "location": posted["location"], "host": posted["host"],
                "summary": posted["summary"], "attendees": _attendee_rows(
                    [a for a in posted["attendees"] if a["name"].strip() or a["role"].strip()])}
    else:
        held_at = meeting.held_at
        form = {"held_at": timezone.localtime(held_at).strftime("%Y-%m-%dT%H:%M") if held_at else "",
                "location": meeting.location, "host": meeting.host or (request.user.get_full_name() if editable else ""),
                "summary": meeting.summary, "attendees": _attendee_rows(meeting.attendees)}
    decided = sum(1 for i in items if i.decision)
    context = {
        "meeting": meeting, "community": meeting.community, "items": items, "can_write": can_write,
        "editable": editable, "form": form,
        "error": error, "error_field": error_field, "decided": decided,
        "today": timezone.localdate(), "section": "meetings", "attendee_roles": ATTENDEE_ROLES,
    }
    return render(request, "cases/cycles/meeting.html", context, status=status)


@require_cycle_pages
@require_GET
def meeting_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _meeting_page(request, selectors.deliberation_get(request.user, pk))


@require_cycle_pages
@require_POST
def meeting_save(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the record (time, place, host, attendance, minutes, decisions); with "hold", also
    mark the meeting held."""
    meeting = selectors.deliberation_get(request.user, pk)
    posted = _posted_record(request, list(meeting.items.all()))
    if posted["held_at"] == "invalid":
        return _meeting_page(request, meeting, posted=posted, error=_("召开时间格式不对。"), error_field="held_at",
                             status=400)
    for item_id, entry in posted["decisions"].items():
        if entry["due_raw"] and entry["due_date"] is None:
            return _meeting_page(request, meeting, posted=posted, error=_("完成时限格式不对。"),
                                 error_field=f"due_{item_id}", status=400)
    try:
        cycles.deliberation_update(
            actor=request.user, meeting=meeting, held_at=posted["held_at"], location=posted["location"],
            host=posted["host"], attendees=posted["attendees"], summary=posted["summary"],
            decisions={k: {key: v[key] for key in ("decision", "owner_user", "due_date")}
                       for k, v in posted["decisions"].items()},
        )
        if "hold" in request.POST:
            cycles.deliberation_hold(actor=request.user, meeting=meeting)
    except DomainError as exc:
        if exc.status_code == 403:
            return render_error(request, exc)
        return _meeting_page(request, meeting, posted=posted, error=exc.message, error_field=exc.field or "",
                             status=exc.status_code)
    if "hold" in request.POST:
        messages.success(request, _("月议已记录为已召开，议定事项已推送给各责任人。"))
    else:
        messages.success(request, _("已保存。"))
    return redirect("cases:cycles_meeting", pk=meeting.pk)


@require_cycle_pages
@require_POST
def meeting_add_case(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = selectors.deliberation_get(request.user, pk)
    ticket = request.POST.get("ticket", "")
    case = case_selectors.case_by_ticket(request.user, ticket)
    try:
        if case is None:
            raise DomainError(_("没有找到编号为 %(ticket)s 的事项。") % {"ticket": ticket.strip()[:40]}, field="ticket")
        cycles.deliberation_add_case(actor=request.user, meeting=meeting, case=case,
                                     why=request.POST.get("why", "") or "社区提议")
    except DomainError as exc:
        if exc.status_code == 403:
            return render_error(request, exc)
        return _meeting_page(request, meeting, error=exc.message, error_field=exc.field or "ticket",
                             status=exc.status_code)
    messages.success(request, _("已把 %(ticket)s 列入议程。") % {"ticket": case.ticket})
    return redirect("cases:cycles_meeting", pk=meeting.pk)


@require_cycle_pages
@require_POST
def meeting_remove_item(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    meeting = selectors.deliberation_get(request.user, pk)
    item = meeting.items.select_related("case").filter(pk=item_pk).first()
    if item is None:
        raise Http404(_("未找到该对象。"))
    try:
        cycles.deliberation_remove_item(actor=request.user, item=item)
    except DomainError as exc:
        return render_error(request, exc)
    messages.success(request, _("已把 %(ticket)s 移出议程。") % {"ticket": item.case.ticket})
    return redirect("cases:cycles_meeting", pk=meeting.pk)


@require_cycle_pages
@require_POST
def meeting_refresh(request: HttpRequest, pk: int) -> HttpResponse:
    """Run the agenda rules again: add the cases that became difficult, overdue or repeated."""
    meeting = selectors.deliberation_get(request.user, pk)
    before = meeting.items.count()
    try:
        cycles.deliberation_prepare(actor=request.user, community=meeting.community, month=meeting.month)
    except DomainError as exc:
        return render_error(request, exc)
    messages.success(request, _("按规则补入 %(n)s 项。") % {"n": meeting.items.count() - before})
    return redirect("cases:cycles_meeting", pk=meeting.pk)


@require_cycle_pages
@require_GET
def meeting_minutes(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = selectors.deliberation_get(request.user, pk)
    return file_response(reports.minutes_docx(meeting), f"{reports.minutes_title(meeting)}.docx", DOCX)


@login_required
@require_GET
def decisions(request: HttpRequest) -> HttpResponse:
    """我的月议事项: the decisions the user is responsible for (read-only besides marking done)."""
    items = list(selectors.decisions_owned(request.user))
    visible = set(case_selectors.cases_visible(request.user).filter(pk__in=[i.case_id for i in items])
                  .values_list("pk", flat=True))
    today = timezone.localdate()
    for item in items:
        item.case_visible = item.case_id in visible
        item.overdue = bool(item.due_date and item.due_date < today and not item.completed_at)
    return render(request, "cases/cycles/decisions.html", {"items": items, "today": today, "section": "decisions"})


@login_required
@require_POST
def decision_done(request: HttpRequest, item_pk: int) -> HttpResponse:
    item = selectors.deliberation_item_get(request.user, item_pk)
    done = request.POST.get("done", "1") != "0"
    try:
        cycles.deliberation_item_complete(actor=request.user, item=item, done=done)
    except DomainError as exc:
        return render_error(request, exc)
    if done:
        messages.success(request, _("已标记落实：%(title)s。") % {"title": item.case.title})
    else:
        messages.success(request, _("已改回未落实：%(title)s。") % {"title": item.case.title})
    return redirect(_next_url(request, reverse("cases:cycles_decisions")))


# --- 季末逐项评估销号 -------------------------------------------------------------------------------


def _quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def _recent_quarters(count: int = QUARTER_CHOICES) -> list[tuple[int, int, str]]:
    year, quarter = _quarter_of(timezone.localdate())
    out = []
    for _i in range(count):
        out.append((year, quarter, reports.quarter_name(year, quarter)))
        year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    return out


def _parse_quarter(raw: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"(\d{4})-Q([1-4])", (raw or "").strip())
    if not match or not 2000 <= int(match[1]) <= 2100:
        return None
    return int(match[1]), int(match[2])


@require_cycle_pages
@require_GET
def reviews(request: HttpRequest) -> HttpResponse:
    places = list(selectors.cycle_places(request.user, selectors.COMMUNITY_KINDS))
    community = _pick(request, places, selectors.COMMUNITY_KINDS, "community")
    if community is None:
        raise PermissionDenied(_("季度评估按社区（村）进行，您负责的范围内没有社区（村）。"))
    rows = list(selectors.review_list(request.user, community=community))
    for review in rows:
        review.counts = selectors.review_counts(review)
        review.title = reports.report_title(review)
    context = {
        "places": org_selectors.place_labels(places), "community": community, "reviews": rows,
        "can_write": _can_write(request.user, community), "quarters": _recent_quarters(),
        "section": "reviews",
    }
    return render(request, "cases/cycles/reviews.html", context)


@require_cycle_pages
@require_POST
def review_prepare(request: HttpRequest) -> HttpResponse:
    places = list(selectors.cycle_places(request.user, selectors.COMMUNITY_KINDS))
    community = _pick(request, places, selectors.COMMUNITY_KINDS, "community")
    if community is None:
        raise Http404(_("未找到该对象。"))
    quarter = _parse_quarter(request.POST.get("quarter", ""))
    if quarter is None:
        return render_error(request, DomainError(_("请选择季度。"), field="quarter"))
    existing = selectors.review_list(request.user, community=community, year=quarter[0], quarter=quarter[1]).first()
    if existing is not None and existing.status == QuarterlyReview.Status.FINALIZED:
        return redirect("cases:cycles_review", pk=existing.pk)
    try:
        review = cycles.quarterly_review_prepare(actor=request.user, community=community, year=quarter[0],
                                                 quarter=quarter[1])
    except DomainError as exc:
        return render_error(request, exc)
    return redirect("cases:cycles_review", pk=review.pk)


def _current_url(request: HttpRequest, review: QuarterlyReview) -> str:
    """The review page the user is on (for the form's fallback redirect): this GET page, or the
    page an htmx request came from."""
    if request.method == "GET":
        return request.get_full_path()
    current = request.headers.get("HX-Current-URL", "")
    if current and url_has_allowed_host_and_scheme(current, allowed_hosts={request.get_host()}):
        from urllib.parse import urlsplit

        parts = urlsplit(current)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return reverse("cases:cycles_review", args=[review.pk])


VERDICT_FILTERS = {"pending": ReviewItem.Verdict.PENDING, "struck_off": ReviewItem.Verdict.STRUCK_OFF,
                   "carried_over": ReviewItem.Verdict.CARRIED_OVER, "all": None}


def _review_context(request: HttpRequest, review: QuarterlyReview) -> dict[str, Any]:
    counts = selectors.review_counts(review)
    show = request.GET.get("show", "")
    if show not in VERDICT_FILTERS:
        show = "pending" if counts["pending"] else "all"
    return {
        "review": review, "community": review.community, "counts": counts, "show": show,
        "title": reports.report_title(review),
        "can_write": _can_write(request.user, review.community) and review.status == QuarterlyReview.Status.OPEN,
        "strikable": cycles.STRIKABLE, "section": "reviews", "next_url": _current_url(request, review),
        "filters": [("pending", _("待评估"), counts["pending"]), ("struck_off", _("销号"), counts["struck_off"]),
                    ("carried_over", _("结转下季"), counts["carried_over"]), ("all", _("全部"), counts["total"])],
    }


@require_cycle_pages
@require_GET
def review_detail(request: HttpRequest, pk: int) -> HttpResponse:
    review = selectors.review_get(request.user, pk)
    context = _review_context(request, review)
    page = paginate(request, selectors.review_items(review, verdict=VERDICT_FILTERS[context["show"]])
                    .select_related("case__grid"), REVIEW_PAGE_SIZE)
    context.update(page=page, items=list(page.object_list))
    return render(request, "cases/cycles/review.html", context)


@require_cycle_pages
@require_POST
def review_item(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    """销号 or 结转下季 one item, with its reason (htmx swaps the item's card and the counts)."""
    review = selectors.review_get(request.user, pk)
    item = selectors.review_item_get(review, item_pk)
    verdict = request.POST.get("verdict", "")
    reason = request.POST.get("reason", "")
    error, status = "", 200
    try:
        item = cycles.review_item_set(actor=request.user, item=item, verdict=verdict, reason=reason)
    except DomainError as exc:
        if exc.status_code == 403:
            return render_error(request, exc)
        error, status = exc.message, exc.status_code
        item.refresh_from_db()
    if request.headers.get("HX-Request"):
        context = _review_context(request, review)
        context.update(item=item, error=error, posted_reason=reason if error else item.reason, oob=True)
        return htmx_aware(render(request, "cases/cycles/_review_item.html", context, status=status))
    if error:
        context = _review_context(request, review)
        page = paginate(request, selectors.review_items(review, verdict=VERDICT_FILTERS[context["show"]])
                        .select_related("case__grid"), REVIEW_PAGE_SIZE)
        context.update(page=page, items=list(page.object_list), error_item=item.pk, error=error, posted_reason=reason)
        return render(request, "cases/cycles/review.html", context, status=status)
    messages.success(request, _("%(ticket)s：%(verdict)s。") % {"ticket": item.case.ticket,
                                                              "verdict": item.get_verdict_display()})
    return redirect(_next_url(request, reverse("cases:cycles_review", args=[review.pk])))


@require_cycle_pages
@require_POST
def review_finalize(request: HttpRequest, pk: int) -> HttpResponse:
    review = selectors.review_get(request.user, pk)
    try:
        cycles.quarterly_review_finalize(actor=request.user, review=review)
    except DomainError as exc:
        if exc.status_code == 403:
            return render_error(request, exc)
        context = _review_context(request, review)
        page = paginate(request, selectors.review_items(review, verdict=VERDICT_FILTERS[context["show"]])
                        .select_related("case__grid"), REVIEW_PAGE_SIZE)
        context.update(page=page, items=list(page.object_list), finalize_error=exc.message)
        return render(request, "cases/cycles/review.html", context, status=exc.status_code)
    messages.success(request, _("季度评估已定稿，销号事项已结案。"))
    return redirect(f"{reverse('cases:cycles_report')}?node={review.community_id}&quarter={review.year}-Q{review.quarter}")


# --- 季报告 -----------------------------------------------------------------------------------------

REPORT_KINDS = (NodeKind.SUBDISTRICT, *selectors.COMMUNITY_KINDS)


def _report_target(request: HttpRequest):
    """The report's place — a sub-district whose report the user may read (report_subdistricts) or
    a community (村) in the user's case scope — and quarter."""
    subdistricts = selectors.report_subdistricts(request.user)
    own = {n.pk for n in selectors.subdistricts(request.user)}
    # first what the user is responsible for: the sub-district (leaders) or the community
    places = ([n for n in subdistricts if n.pk in own]
              + list(selectors.cycle_places(request.user, selectors.COMMUNITY_KINDS))
              + [n for n in subdistricts if n.pk not in own])
    raw = request.GET.get("node", "")
    circulated = next((n for n in subdistricts if str(n.pk) == raw), None)
    node = circulated or _pick(request, places, REPORT_KINDS)
    if node is None:
        raise PermissionDenied(_("季报告按社区（村）或街道编写，您负责的范围内没有。"))
    quarters = _recent_quarters()
    quarter = _parse_quarter(request.GET.get("quarter", "")) or quarters[0][:2]
    return places, node, quarter, quarters


@require_cycle_pages
@require_GET
def report(request: HttpRequest) -> HttpResponse:
    """季报告 of a community (村) or of the whole sub-district: the preview and the downloads."""
    places, node, (year, quarter), quarters = _report_target(request)
    document = reports.quarter_report(node, year, quarter)
    review = (QuarterlyReview.objects.filter(community=node, year=year, quarter=quarter).first()
              if node.kind != NodeKind.SUBDISTRICT else None)
    context = {
        "places": org_selectors.place_labels(places), "node": node, "year": year, "quarter": quarter,
        "quarter_key": f"{year}-Q{quarter}", "quarters": quarters, "document": document,
        "figures": document.figures, "review": review, "section": "report",
        "rates": [(label, reports.percent(value)) for _k, label, value in document.figures["rates"]],
    }
    if node.kind == NodeKind.SUBDISTRICT:
        rows = document.data["communities"]
        visible = {n.pk for n in selectors.cycle_places(request.user, selectors.COMMUNITY_KINDS)}
        for row in rows:
            row["visible"] = row["community"].pk in visible
            row["rates"] = [(label, reports.percent(value)) for _k, label, value in row["figures"]["rates"]]
        context["communities"] = rows
    return render(request, "cases/cycles/report.html", context)


@require_cycle_pages
@require_GET
def report_download(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in ("docx", "xlsx"):
        raise Http404(_("未找到该对象。"))
    _places, node, (year, quarter), _quarters = _report_target(request)
    document = reports.quarter_report(node, year, quarter)
    if kind == "docx":
        return file_response(reports.report_docx(document), f"{document.filename}.docx", DOCX)
    return file_response(reports.report_xlsx(document), f"{document.filename}.xlsx", XLSX)
