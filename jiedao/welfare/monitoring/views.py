"""Staff pages of 防止返贫动态监测: the list with filters, a lead, the household page (plan,
visits, history, the entry and exit steps), the visit form made for a phone, the dynamic
adjustment, 我的走访 (the cadre's visits due this week), the monthly overdue list per
community, the public notice list and the year's monitoring line.

Thin: a form parses, a selector (scoped by jiedao.core.scope) reads, a service (which checks
scope again and writes the audit event) writes. A record outside the viewer's scope answers 404;
a refused action shows the service's Chinese message on the field it names, with its status.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from jiedao.core import exports, scope
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.core.views import form_error, paginate, render_error, require_perm_anywhere
from jiedao.org.models import NodeKind, OrgNode
from jiedao.welfare.models.monitoring import CLOSED_STATES, NOTICE_DAYS_MIN, MeasureStatus, MonitoringState
from jiedao.welfare.monitoring import selectors, services, workflow
from jiedao.welfare.monitoring.forms import (
    ActionForm,
    AdjustForm,
    FilterForm,
    LeadForm,
    LineForm,
    MeasureForm,
    MeasureUpdateForm,
    OverdueForm,
    VisitForm,
)
from jiedao.welfare.monitoring.workflow import MonitoringAction


@require_perm_anywhere(Perm.VIEW_WELFARE)
def monitored_list(request: HttpRequest) -> HttpResponse:
    form = FilterForm(request.GET or None, user=request.user)
    qs = selectors.monitored_list(request.user, **form.filters())
    return render(request, "welfare/monitoring/list.html", {
        "form": form, "page": paginate(request, qs), "counts": selectors.state_counts(request.user),
        "can_record": scope.has_perm_anywhere(request.user, Perm.RECORD_WELFARE), "query": request.GET.urlencode()})


@require_perm_anywhere(Perm.VIEW_WELFARE)
@require_POST
def monitored_export(request: HttpRequest) -> HttpResponse:
    """The filtered list as an export job (the same scoped rows as the page, no identifiers); the
    file is written in the background and downloaded from 我的导出 (core.exports), audited."""
    form = FilterForm(request.GET or None, user=request.user)
    try:
        exports.export_request(actor=request.user, register="welfare.monitoring", filters=form.filters())
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("welfare:monitoring_list") + (f"?{request.GET.urlencode()}" if request.GET else ""))
    messages.success(request, _("已开始导出，完成后可在“我的导出”中下载。"))
    return redirect("exports:list")


@require_perm_anywhere(Perm.RECORD_WELFARE)
def monitored_new(request: HttpRequest) -> HttpResponse:
    form = LeadForm(request.POST or None, initial={"household": request.GET.get("household", "")})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            d = form.cleaned_data
            household = selectors.household_for_lead(request.user, d["household"])
            if household is None:
                form.add_error("household", _("没有找到该户号，或该户不在您负责的范围内。"))
            else:
                try:
                    monitored = services.monitored_create(
                        actor=request.user, household=household, kind=d["kind"], risk_types=d["risk_types"],
                        lead_source=d["lead_source"], lead_on=d["lead_on"], lead_note=d["lead_note"],
                        income_per_head=d["income_per_head"])
                except DomainError as exc:
                    status = form_error(form, exc)
                else:
                    messages.success(request, _("已登记线索，请在 15 天内完成核实、评议、公示和认定。"))
                    return redirect("welfare:monitoring_detail", pk=monitored.pk)
    return render(request, "welfare/monitoring/lead_form.html", {"form": form}, status=status)


def _detail(request: HttpRequest, monitored: Any, *, failed: ActionForm | None = None,
            measure_form: MeasureForm | None = None, measure_update: tuple[int, MeasureUpdateForm] | None = None,
            status: int = 200) -> HttpResponse:
    user = request.user
    kinds = services.monitored_actor_kinds(user, monitored)
    actions = []
    for action in workflow.allowed_actions(monitored.state, kinds, current=monitored, actor=user):
        row = workflow.find(action, monitored.state)
        form = failed if failed is not None and failed.data.get("action") == action else \
            ActionForm(initial={"action": action})
        actions.append({"action": action, "label": MonitoringAction(action).label, "row": row, "form": form,
                        "params": [form[name] for name in ActionForm.PARAMS.get(action, ())]})
    steps = list(selectors.transitions(monitored))
    for step in steps:
        step.label = _("登记线索") if step.action == "lead" else MonitoringAction(step.action).label
    can_record = scope.path_allows(user, Perm.RECORD_WELFARE, monitored.node.path)
    line = services.line_for(monitored.subdistrict_id, timezone.localdate().year)
    plan = list(selectors.measures(monitored))
    for x in plan:  # each measure's update form; the one that failed keeps what was typed
        x.update_form = measure_update[1] if measure_update and measure_update[0] == x.pk \
            else MeasureUpdateForm.for_measure(x)
        x.update_failed = bool(measure_update and measure_update[0] == x.pk)
    return render(request, "welfare/monitoring/detail.html", {
        "m": monitored, "actions": actions, "steps": steps, "line": line,
        "measures": plan, "visits": selectors.visits(monitored)[:36],
        "changes": selectors.changes(monitored)[:100], "members": _members(user, monitored),
        "can_record": can_record and monitored.state not in CLOSED_STATES,
        "can_visit": can_record and monitored.is_monitored,
        "measure_form": measure_form or MeasureForm(),
    }, status=status)


def _members(user: Any, monitored: Any) -> list[Any]:
    """The household's residents as the register shows them (masked), when the user sees it."""
    from jiedao.people import selectors as people_selectors

    if not scope.path_allows(user, Perm.VIEW_PEOPLE, monitored.household.node.path):
        return []
    return list(people_selectors.household_members(user, monitored.household)[:30])


@login_required
def monitored_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, selectors.monitored_get(request.user, pk))


@login_required
@require_POST
def monitored_act(request: HttpRequest, pk: int) -> HttpResponse:
    monitored = selectors.monitored_get(request.user, pk)
    form = ActionForm(request.POST)
    if not form.is_valid():
        return _detail(request, monitored, failed=form, status=400)
    try:
        services.monitored_act(actor=request.user, monitored=monitored, action=form.cleaned_data["action"],
                               reason=form.cleaned_data["reason"], **form.params())
    except DomainError as exc:
        if exc.status_code == 409 or exc.field not in form.fields:
            messages.error(request, exc.message)
            return _detail(request, selectors.monitored_get(request.user, pk), failed=form, status=exc.status_code)
        return _detail(request, monitored, failed=form, status=form_error(form, exc))
    messages.success(request, _("已%(action)s。") % {"action": MonitoringAction(form.cleaned_data["action"]).label})
    return redirect("welfare:monitoring_detail", pk=pk)


@login_required
def monitored_adjust(request: HttpRequest, pk: int) -> HttpResponse:
    monitored = selectors.monitored_get(request.user, pk)
    path = monitored.node.path
    scope.require(request.user, Perm.RECORD_WELFARE, path, view_perm=Perm.VIEW_WELFARE)
    can_manage = scope.path_allows(request.user, Perm.MANAGE_WELFARE, path)
    initial = {"kind": monitored.kind, "risk_types": monitored.risk_types, "cadre": monitored.cadre_id,
               "income_per_head": monitored.income_per_head, "members": monitored.members}
    form = AdjustForm(request.POST or None, initial=initial, cadres=services.cadres_for(path), can_manage=can_manage)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            d = form.cleaned_data
            try:
                rows = services.monitored_adjust(
                    actor=request.user, monitored=monitored, reason=d["reason"], kind=d["kind"],
                    risk_types=d["risk_types"], cadre=d["cadre"], income_per_head=d["income_per_head"],
                    members=d["members"])
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已调整 %(n)s 项，调整记录已保存。") % {"n": len(rows)})
                return redirect("welfare:monitoring_detail", pk=pk)
    return render(request, "welfare/monitoring/adjust_form.html", {"m": monitored, "form": form}, status=status)


@login_required
def visit_new(request: HttpRequest, pk: int) -> HttpResponse:
    monitored = selectors.monitored_get(request.user, pk)
    scope.require(request.user, Perm.RECORD_WELFARE, monitored.node.path, view_perm=Perm.VIEW_WELFARE)
    open_measures = [m for m in selectors.measures(monitored)
                     if m.status in (MeasureStatus.PLANNED, MeasureStatus.ONGOING)]
    form = VisitForm(request.POST or None, monitored=monitored, open_measures=open_measures)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.visit_record(actor=request.user, monitored=monitored, **form.values())
            except DomainError as exc:
                aliases = {"category": "new_category", "content": "new_content", "owner": "new_owner",
                           "due_on": "new_due_on", "measures": None, "submission": None}
                if exc.field == "submission":  # an id already used for another household: a fresh one to resend
                    form.data = form.data.copy()
                    form.data["submission"] = uuid.uuid4().hex
                status = form_error(form, exc, aliases)
            else:
                messages.success(request, _("已记录走访。"))
                return redirect("welfare:monitoring_detail", pk=pk)
    return render(request, "welfare/monitoring/visit_form.html", {"m": monitored, "form": form}, status=status)


@login_required
@require_POST
def measure_add(request: HttpRequest, pk: int) -> HttpResponse:
    monitored = selectors.monitored_get(request.user, pk)
    form = MeasureForm(request.POST)
    if not form.is_valid():
        return _detail(request, monitored, measure_form=form, status=400)
    try:
        services.measure_add(actor=request.user, monitored=monitored, **form.cleaned_data)
    except DomainError as exc:
        return _detail(request, monitored, measure_form=form, status=form_error(form, exc))
    messages.success(request, _("已添加帮扶措施。"))
    return redirect("welfare:monitoring_detail", pk=pk)


@login_required
@require_POST
def measure_update(request: HttpRequest, pk: int) -> HttpResponse:
    measure = selectors.measure_get(request.user, pk)
    form = MeasureUpdateForm(request.POST, auto_id=f"m{measure.pk}_%s")
    status = 400
    if form.is_valid():
        try:
            services.measure_update(actor=request.user, measure=measure, **form.cleaned_data)
        except DomainError as exc:
            status = form_error(form, exc)
        else:
            messages.success(request, _("已更新措施进展。"))
            return redirect("welfare:monitoring_detail", pk=measure.monitored_id)
    # the detail page again, this measure's form open with what was typed and the errors
    monitored = selectors.monitored_get(request.user, measure.monitored_id)
    return _detail(request, monitored, measure_update=(measure.pk, form), status=status)


@require_perm_anywhere(Perm.RECORD_WELFARE)
def my_visits(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    return render(request, "welfare/monitoring/mine.html", {"mine": selectors.my_visits(request.user, today),
                                                            "today": today})


@require_perm_anywhere(Perm.VIEW_WELFARE)
def overdue(request: HttpRequest) -> HttpResponse:
    month = selectors.previous_month(selectors.month_start(timezone.localdate()))
    form = OverdueForm(request.GET or None, user=request.user, initial={"month": month.strftime("%Y-%m")})
    node = None
    status = 200
    if form.is_valid():
        month = form.cleaned_data["month"]
        node = next((n for n in form.communities if n.pk == form.cleaned_data.get("node")), None)
    elif form.is_bound:
        status = 400  # the form shows its error; the list stays on last month
    rows = selectors.overdue_in_month(request.user, month, node=node)
    due = selectors.due_in_month(selectors.in_subtree(selectors.monitored_visible(request.user), node), month).count()
    current = month == selectors.month_start(timezone.localdate())
    return render(request, "welfare/monitoring/overdue.html", {
        "form": form, "month": month, "page": paginate(request, rows), "due": due, "current": current}, status=status)


@require_perm_anywhere(Perm.VIEW_WELFARE)
def notice(request: HttpRequest) -> HttpResponse:
    """The public notice list (公示名单) of the households in a notice period: number, address,
    members, kind and the step — never an ID number, phone, bank account or health (risk types
    such as 因病/因残 tell health, so they are left out too)."""
    rows = selectors.monitored_visible(request.user).filter(
        state__in=(MonitoringState.NOTICE, MonitoringState.EXIT_NOTICE)).order_by("household__node__path", "household__number")
    return render(request, "welfare/monitoring/notice.html", {"rows": rows, "days": NOTICE_DAYS_MIN})


@require_perm_anywhere(Perm.VIEW_WELFARE)
def lines(request: HttpRequest) -> HttpResponse:
    user = request.user
    subdistricts = [n for n in OrgNode.objects.filter(kind=NodeKind.SUBDISTRICT, is_active=True).order_by("path")
                    if scope.path_allows(user, Perm.MANAGE_WELFARE, n.path)]
    form = LineForm(request.POST or None, subdistricts=subdistricts)
    status = 200
    if request.method == "POST":
        status = 400
        if not subdistricts:
            return render_error(request, DomainError(_("只有街道一级的管理人员可以设置监测标准。")))
        if form.is_valid():
            data = {k: v for k, v in form.cleaned_data.items() if k != "subdistrict"}
            try:
                services.line_set(actor=user, subdistrict=form.chosen(), **data)
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已保存监测标准。"))
                return redirect("welfare:monitoring_lines")
    return render(request, "welfare/monitoring/lines.html", {
        "form": form, "lines": selectors.lines(user), "can_edit": bool(subdistricts)}, status=status)
