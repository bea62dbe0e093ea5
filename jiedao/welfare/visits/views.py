"""Staff pages of visits and the veterans' service: the due list (and 我的走访 for a grid worker on
a phone), a resident's schedule with the visit form, recorded visits (a need turned into a case),
the veterans' register with checks, requests and 优待证 applications and their workflows.

Thin: a form parses, a selector (scoped by jiedao.core.scope) reads, a service writes. A record
outside the viewer's scope answers 404; a refused action shows the service's Chinese message on
the field it names, with the error's HTTP status.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from jiedao.core import scope
from jiedao.core.errors import DomainError, PermissionError_
from jiedao.core.permissions import Perm
from jiedao.core.views import form_error, paginate, render_error, require_perm_anywhere
from jiedao.org.models import OrgNode
from jiedao.welfare.visits import selectors, services
from jiedao.welfare.visits.forms import (
    ActionForm,
    ApplyForm,
    CardFilterForm,
    CheckForm,
    DueFilterForm,
    RequestFilterForm,
    RequestForm,
    VeteranFilterForm,
    VeteranForm,
    VeteranNewForm,
    VisitForm,
)
from jiedao.welfare.visits.workflow import CARD_TABLE, REQUEST_TABLE


def _node(user: Any, pk: Any) -> OrgNode | None:
    if not pk:
        return None
    return scope.get_scoped(OrgNode.objects.all(), user, Perm.VIEW_WELFARE, pk=pk)


# --- the due list -------------------------------------------------------------------------------


def _due_page(request: HttpRequest, *, mine: bool) -> HttpResponse:
    user = request.user
    data = request.GET.copy()
    data.setdefault("bucket", "due" if mine else "all")
    form = DueFilterForm(data, user=user)
    filters = form.cleaned_data if form.is_valid() else {"bucket": data["bucket"]}
    node = _node(user, filters.get("grid") or filters.get("community"))
    rows = selectors.due_rows(user, node=node, group=filters.get("group"), bucket=filters.get("bucket") or "all",
                              mine=mine, q=filters.get("q") or "")
    total, by_grid, by_visitor = selectors.tallies(rows)
    return render(request, "welfare/visits/due.html", {
        "form": form, "page": paginate(request, rows), "total": total, "by_grid": by_grid[:30],
        "by_visitor": by_visitor[:30], "mine": mine, "today": timezone.localdate(),
        "can_record": scope.has_perm_anywhere(user, Perm.RECORD_WELFARE)})


@require_perm_anywhere(Perm.VIEW_WELFARE)
def due_list(request: HttpRequest) -> HttpResponse:
    return _due_page(request, mine=False)


@require_perm_anywhere(Perm.VIEW_WELFARE)
def my_visits(request: HttpRequest) -> HttpResponse:
    return _due_page(request, mine=True)


@require_perm_anywhere(Perm.VIEW_WELFARE)
def resident_visits(request: HttpRequest, pk: int) -> HttpResponse:
    """A resident's schedule, visits and the visit form (made for a phone)."""
    resident = selectors.resident_get(request.user, pk)
    today = timezone.localdate()
    schedule = selectors.resident_schedule(request.user, resident, today)
    choices = [(r.group_id, r.group_name) for r in schedule]
    form = VisitForm(request.POST or None, group_choices=choices)
    status = 200
    can_record = (scope.path_allows(request.user, Perm.RECORD_WELFARE, resident.node.path) and bool(schedule)
                  and resident.is_active)
    if request.method == "POST":
        status = 400
        if not resident.is_active:
            return render_error(request, DomainError(_("该居民已不在册（已注销或迁出），不能登记走访。"), field="resident"))
        if not can_record:
            return render_error(request, PermissionError_(_("您不能为该居民登记走访。"))
                                if schedule else DomainError(_("该居民不在需要走访的特殊人群中。"), field="resident"))
        if form.is_valid():
            try:
                visit = services.visit_record(actor=request.user, resident=resident, **form.cleaned_data)
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已登记走访。"))
                return redirect("welfare:visit", pk=visit.pk)
    return render(request, "welfare/visits/resident.html", {
        "resident": resident, "schedule": schedule, "form": form, "can_record": can_record,
        "visits": selectors.visits(request.user, resident=resident)[:50]}, status=status)


@require_perm_anywhere(Perm.VIEW_WELFARE)
def visit_list(request: HttpRequest) -> HttpResponse:
    return render(request, "welfare/visits/visit_list.html",
                  {"page": paginate(request, selectors.visits(request.user))})


@require_perm_anywhere(Perm.VIEW_WELFARE)
def visit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    visit = selectors.visit_get(request.user, pk)
    can_case = (not visit.case_id and bool(visit.needs)
                and scope.path_allows(request.user, Perm.RECORD_WELFARE, visit.resident.node.path))
    return render(request, "welfare/visits/visit_detail.html", {"visit": visit, "can_case": can_case})


@require_POST
@require_perm_anywhere(Perm.VIEW_WELFARE)
def visit_case(request: HttpRequest, pk: int) -> HttpResponse:
    visit = selectors.visit_get(request.user, pk)
    try:
        visit = services.visit_raise_case(actor=request.user, visit=visit)
    except DomainError as exc:
        return render_error(request, exc)
    messages.success(request, _("已转为事项 %(ticket)s。") % {"ticket": visit.case.ticket})
    return redirect("welfare:visit", pk=visit.pk)


# --- veterans -----------------------------------------------------------------------------------


@require_perm_anywhere(Perm.VIEW_WELFARE)
def veteran_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = VeteranFilterForm(request.GET or None, user=user)
    f = form.cleaned_data if form.is_valid() else {}
    qs = selectors.veterans(user, q=f.get("q") or "", category=f.get("category") or "",
                            card_status=f.get("card_status") or "", node=_node(user, f.get("community")))
    today = timezone.localdate()
    figures = selectors.figures(user, None, today.replace(month=1, day=1), today)
    return render(request, "welfare/visits/veteran_list.html", {
        "form": form, "page": paginate(request, qs), "figures": figures,
        "can_record": scope.has_perm_anywhere(user, Perm.RECORD_WELFARE)})


def _unfiled_veterans(user: Any) -> list[tuple[int, str]]:
    return [(pk, f"{name} · {node} · {masked or '—'}") for pk, name, node, masked in selectors.unfiled_veterans(user)]


def _found_residents(user: Any, q: str) -> list[tuple[int, str]]:
    """Residents in the register the user may file (RECORD_WELFARE there), not yet filed, whose name
    contains `q` — a 烈属, 军属 or other 优抚对象 carries no 退役军人 tag. Masks only."""
    return [(r.pk, f"{r.name} · {r.node.name} · {r.id_number_masked or r.phone_masked or '—'}")
            for r in selectors.unfiled_residents(user, q)]


@require_perm_anywhere(Perm.RECORD_WELFARE)
def veteran_new(request: HttpRequest) -> HttpResponse:
    """File an 优抚对象: pick one of the residents tagged 退役军人 without a record, or find any
    resident in scope by name (the search keeps its `q` in the URL the form posts to)."""
    q = (request.GET.get("q") or "").strip()[:40]
    residents = _found_residents(request.user, q) if q else _unfiled_veterans(request.user)
    form = VeteranNewForm(request.POST or None, residents=residents, searched=bool(q))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                resident = services.visible_resident(request.user, data.pop("resident"))
                veteran = services.veteran_create(actor=request.user, resident=resident, **data)
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已建立优抚对象档案。"))
                return redirect("welfare:veteran", pk=veteran.pk)
    return render(request, "welfare/visits/veteran_new.html", {"form": form, "q": q, "residents": residents},
                  status=status)


def _actions(table: Any, user: Any, obj: Any, posted: ActionForm | None = None) -> list[dict[str, Any]]:
    kinds = services.actor_kinds(user, obj.veteran.resident.node.path)
    rows = []
    for action in table.allowed_actions(obj.state, kinds, current=obj, actor=user):
        form = posted if posted is not None and posted.data.get("action") == action else ActionForm(
            initial={"action": action}, auto_id=f"id_{action}_%s")
        rows.append({"action": action, "label": table.actions(action).label, "row": table.find(action, obj.state),
                     "form": form})
    return rows


@require_perm_anywhere(Perm.VIEW_WELFARE)
def veteran_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    veteran = selectors.veteran_get(user, pk)
    forms_ = {"edit": VeteranForm(initial={f: getattr(veteran, f) for f in
                                           ("category", "enlisted_year", "discharged_year", "filed", "notes")}),
              "check": CheckForm(), "request": RequestForm(), "apply": ApplyForm()}
    status = 200
    if request.method == "POST":
        which = request.POST.get("form", "")
        if which not in forms_:
            return render_error(request, DomainError(_("未知的操作。"), field="form"))
        form = {"edit": VeteranForm, "check": CheckForm, "request": RequestForm, "apply": ApplyForm}[which](
            request.POST)
        forms_[which] = form
        status = 400
        if form.is_valid():
            d = form.cleaned_data
            try:
                if which == "edit":
                    services.veteran_update(actor=user, veteran=veteran, **d)
                elif which == "check":
                    services.veteran_check(actor=user, veteran=veteran, checked_on=d["checked_on"], notes=d["notes"],
                                           filed=True if d["filed"] else None)
                elif which == "request":
                    created = services.request_create(actor=user, veteran=veteran, **d)
                    messages.success(request, _("已登记诉求。"))
                    return redirect("welfare:request", pk=created.pk)
                else:
                    created = services.card_apply(actor=user, veteran=veteran, applied_on=d["applied_on"])
                    messages.success(request, _("已登记优待证申请。"))
                    return redirect("welfare:card", pk=created.pk)
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已保存。"))
                return redirect("welfare:veteran", pk=veteran.pk)
    return render(request, "welfare/visits/veteran_detail.html", {
        "veteran": veteran, "forms": forms_,
        "can_record": scope.path_allows(user, Perm.RECORD_WELFARE, veteran.resident.node.path),
        "checks": selectors.checks(user, veteran)[:20], "requests": selectors.requests(user, veteran=veteran)[:20],
        "applications": selectors.applications(user, veteran=veteran)[:10]}, status=status)


def _flow_page(request: HttpRequest, obj: Any, *, table: Any, act: Any, template: str, name: str) -> HttpResponse:
    posted = None
    status = 200
    if request.method == "POST":
        posted = ActionForm(request.POST, auto_id=f"id_{request.POST.get('action', '')}_%s")
        status = 400
        if posted.is_valid():
            d = posted.cleaned_data
            try:
                act(obj, d)
            except DomainError as exc:
                status = form_error(posted, exc)
            else:
                messages.success(request, _("已办理。"))
                return redirect(f"welfare:{name}", pk=obj.pk)
    steps = list(obj.transitions.select_related("actor").order_by("seq"))
    for step in steps:
        step.label = table.actions(step.action).label if step.action in table.actions.values else step.action
    return render(request, template, {"obj": obj, "steps": steps,
                                      "actions": _actions(table, request.user, obj, posted)}, status=status)


@require_perm_anywhere(Perm.VIEW_WELFARE)
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    obj = selectors.request_get(request.user, pk)
    return _flow_page(request, obj, table=REQUEST_TABLE, template="welfare/visits/request_detail.html", name="request",
                      act=lambda o, d: services.request_act(actor=request.user, request=o, action=d["action"],
                                                            reason=d["reason"]))


@require_perm_anywhere(Perm.VIEW_WELFARE)
def card_detail(request: HttpRequest, pk: int) -> HttpResponse:
    obj = selectors.application_get(request.user, pk)
    return _flow_page(request, obj, table=CARD_TABLE, template="welfare/visits/card_detail.html", name="card",
                      act=lambda o, d: services.card_act(actor=request.user, application=o, action=d["action"],
                                                         reason=d["reason"], card_number=d["card_number"]))


@require_perm_anywhere(Perm.VIEW_WELFARE)
def request_list(request: HttpRequest) -> HttpResponse:
    form = RequestFilterForm(request.GET or None)
    state = form.cleaned_data.get("state", "") if form.is_valid() else ""
    return render(request, "welfare/visits/request_list.html", {
        "form": form, "page": paginate(request, selectors.requests(request.user, state=state))})


@require_perm_anywhere(Perm.VIEW_WELFARE)
def card_list(request: HttpRequest) -> HttpResponse:
    """优待证 applications, with the 人次 per month of the chosen year."""
    form = CardFilterForm(request.GET or None)
    f = form.cleaned_data if form.is_valid() else {}
    year = f.get("year") or timezone.localdate().year
    qs = selectors.applications(request.user, state=f.get("state") or "")
    applied = Counter(d.month for d in selectors.applications(request.user).filter(applied_on__year=year)
                      .values_list("applied_on", flat=True))
    issued = Counter(d.month for d in selectors.applications(request.user).filter(issued_on__year=year)
                     .values_list("issued_on", flat=True))
    months = [(m, applied.get(m, 0), issued.get(m, 0)) for m in range(1, 13)]
    return render(request, "welfare/visits/card_list.html", {
        "form": form, "page": paginate(request, qs), "months": months, "year": year,
        "applied_total": sum(applied.values()), "issued_total": sum(issued.values())})
