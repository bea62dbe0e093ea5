"""Pages of the 联席会议 (level 3 of 三级调处): the list of meetings, a new meeting, and the meeting
page — members, the agenda with each case and why it is there, a decision form per item, the
hold form. Thin: a form parses, a selector reads (scoped), a service writes; a refused write shows
the service's Chinese message on the field it names, with its status."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from jiedao.cases import selectors as case_selectors
from jiedao.cases.mediation import forms as joint_forms
from jiedao.cases.mediation import selectors
from jiedao.cases.mediation import services as mediation
from jiedao.cases.models import JointMeeting, Level, State
from jiedao.core import scope
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.core.views import form_error, paginate, render_error
from jiedao.org.site_views import object_history


def can_use_pages(user: Any) -> bool:
    """Leaders and administrators (who hold meetings) and department handlers (whose departments
    sit on them) use the pages; the meetings each sees are the selector's business."""
    return scope.has_perm_anywhere(user, Perm.JOINT_MEETINGS) or bool(case_selectors.handler_departments(user))


def require_joint_pages(view: Callable) -> Callable:
    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can_use_pages(request.user):
            raise PermissionDenied(_("联席会议由街道领导和系统管理员召开。"))
        return view(request, *args, **kwargs)

    return wrapped


# --- list and new -----------------------------------------------------------------------------------


@require_joint_pages
def meeting_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = joint_forms.MeetingListFilter(request.GET or None)
    status = form.cleaned_data["status"] if form.is_valid() else ""
    page = paginate(request, selectors.meeting_list(user, status=status or None))
    waiting = [(node, selectors.waiting_counts(user, node)) for node in selectors.host_subdistricts(user)]
    return render(request, "cases/mediation/list.html", {
        "form": form, "page": page, "waiting": waiting, "can_prepare": bool(waiting),
    })


@require_joint_pages
def meeting_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not selectors.host_subdistricts(user).exists():
        raise PermissionDenied(_("联席会议由街道领导和系统管理员召开。"))
    form = joint_forms.MeetingForm(request.POST or None, user=user)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                meeting = mediation.joint_meeting_create(
                    actor=user, subdistrict=data["subdistrict"], title=data["title"], held_at=data["held_at"],
                    location=data["location"], host=data["host"],
                )
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已筹备“%(title)s”，议程列入 %(count)s 件事项。") % {
                    "title": meeting.title, "count": meeting.items.count()})
                return redirect("cases:joint_detail", pk=meeting.pk)
    return render(request, "cases/mediation/new.html", {"form": form}, status=status)


# --- the meeting page ------------------------------------------------------------------------------


def _detail_page(request: HttpRequest, meeting: JointMeeting, *, edit_form: Any = None, hold_form: Any = None,
                 decision_form: Any = None, add_error: str = "", status: int = 200) -> HttpResponse:
    user = request.user
    can_hold = selectors.can_hold(user, meeting)
    draft = meeting.status == JointMeeting.Status.DRAFT
    members = selectors.meeting_members(meeting)
    items = selectors.meeting_items(meeting)
    visible = set(case_selectors.cases_visible(user).filter(pk__in=[i.case_id for i in items])
                  .values_list("pk", flat=True))
    for item in items:
        item.case_visible = item.case_id in visible
        item.waiting = item.case.level == Level.JOINT_MEETING and item.case.state == State.ACCEPTED
        item.form = None
        if can_hold and item.decided_at is None and item.waiting:
            bound = decision_form if decision_form is not None and decision_form.item.pk == item.pk else None
            item.form = bound or joint_forms.DecisionForm(item=item, members=members)
    candidates = []
    if can_hold and draft:
        candidates = selectors.with_escalations(list(selectors.pending_cases(user, meeting.subdistrict,
                                                                             meeting=meeting)[:50]))
    context = {
        "meeting": meeting,
        "members": members,
        "items": items,
        "decided": sum(1 for i in items if i.decided_at),
        "can_hold": can_hold,
        "draft": draft,
        "candidates": candidates,
        "add_error": add_error,
        "edit_form": edit_form or (joint_forms.MeetingEditForm(meeting=meeting) if can_hold and draft else None),
        "edit_open": edit_form is not None,
        "hold_form": hold_form or (joint_forms.HoldForm(meeting=meeting) if can_hold and draft else None),
        **object_history(user, "cases.jointmeeting", meeting.pk),
    }
    return render(request, "cases/mediation/detail.html", context, status=status)


@require_joint_pages
def meeting_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail_page(request, selectors.meeting_get(request.user, pk))


@require_joint_pages
@require_POST
def meeting_edit(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = selectors.meeting_get(request.user, pk)
    form = joint_forms.MeetingEditForm(request.POST, meeting=meeting)
    if not form.is_valid():
        return _detail_page(request, meeting, edit_form=form, status=400)
    data = form.cleaned_data
    try:
        mediation.joint_meeting_update(actor=request.user, meeting=meeting, title=data["title"],
                                       held_at=data["held_at"], location=data["location"], host=data["host"],
                                       members=list(data["members"]))
    except DomainError as exc:
        if exc.status_code == 403:
            return render_error(request, exc)
        status = form_error(form, exc)
        return _detail_page(request, selectors.meeting_get(request.user, pk), edit_form=form, status=status)
    messages.success(request, _("已保存会议信息。"))
    return redirect("cases:joint_detail", pk=meeting.pk)


@require_joint_pages
@require_POST
def meeting_agenda(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = selectors.meeting_get(request.user, pk)
    try:
        added = mediation.joint_meeting_agenda_build(actor=request.user, meeting=meeting)
    except DomainError as exc:
        return render_error(request, exc)
    messages.success(request, _("已补入 %(count)s 件新上报的事项。") % {"count": len(added)})
    return redirect(reverse("cases:joint_detail", args=[meeting.pk]) + "#agenda")


@require_joint_pages
@require_POST
def meeting_item_add(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = selectors.meeting_get(request.user, pk)
    raw = request.POST.get("case", "")
    case = case_selectors.cases_visible(request.user).filter(pk=raw).first() if raw.isdigit() else None
    try:
        if case is None:
            raise DomainError(_("未找到该事项，或它不在您的负责范围内。"), field="case")
        mediation.joint_meeting_item_add(actor=request.user, meeting=meeting, case=case)
    except DomainError as exc:
        if exc.status_code == 403:
            return render_error(request, exc)
        return _detail_page(request, meeting, add_error=exc.message, status=exc.status_code)
    messages.success(request, _("已将 %(ticket)s 列入议程。") % {"ticket": case.ticket})
    return redirect(reverse("cases:joint_detail", args=[meeting.pk]) + "#agenda")


@require_joint_pages
@require_POST
def meeting_item_remove(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    meeting = selectors.meeting_get(request.user, pk)
    item = selectors.meeting_item_get(meeting, item_pk)
    try:
        mediation.joint_meeting_item_remove(actor=request.user, item=item)
    except DomainError as exc:
        return render_error(request, exc)
    messages.success(request, _("已将 %(ticket)s 移出议程，它将等待下次会议。") % {"ticket": item.case.ticket})
    return redirect(reverse("cases:joint_detail", args=[meeting.pk]) + "#agenda")


@require_joint_pages
@require_POST
def meeting_decide(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    meeting = selectors.meeting_get(request.user, pk)
    item = selectors.meeting_item_get(meeting, item_pk)
    if not selectors.can_hold(request.user, meeting):
        raise PermissionDenied(_("联席会议由街道领导和系统管理员召开。"))
    form = joint_forms.DecisionForm(request.POST, item=item, members=selectors.meeting_members(meeting))
    if not form.is_valid():
        return _detail_page(request, meeting, decision_form=form, status=400)
    data = form.cleaned_data
    try:
        mediation.joint_meeting_decide(actor=request.user, item=item, decision=data["decision"],
                                       lead_department=data["lead_department"],
                                       co_departments=list(data["co_departments"]), due_date=data["due_date"])
    except DomainError as exc:
        status = form_error(form, exc)
        return _detail_page(request, meeting, decision_form=form, status=status)
    messages.success(request, _("已作出决定：%(ticket)s 派遣至%(unit)s，时限 %(date)s。") % {
        "ticket": item.case.ticket, "unit": data["lead_department"].name, "date": data["due_date"].isoformat()})
    return redirect(reverse("cases:joint_detail", args=[meeting.pk]) + f"#item-{item.pk}")


@require_joint_pages
@require_POST
def meeting_hold(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = selectors.meeting_get(request.user, pk)
    form = joint_forms.HoldForm(request.POST, meeting=meeting)
    if not form.is_valid():
        return _detail_page(request, meeting, hold_form=form, status=400)
    data = form.cleaned_data
    try:
        mediation.joint_meeting_hold(actor=request.user, meeting=meeting, held_at=data["held_at"],
                                     summary=data["summary"], attendees=data["attendees"], location=data["location"],
                                     host=data["host"])
    except DomainError as exc:
        if exc.status_code == 403:
            return render_error(request, exc)
        status = form_error(form, exc)
        return _detail_page(request, meeting, hold_form=form, status=status)
    messages.success(request, _("已记录会议召开。"))
    return redirect("cases:joint_detail", pk=meeting.pk)
