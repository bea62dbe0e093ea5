"""Staff pages of the registers (底数): residents, households, special groups and businesses,
their spreadsheet imports and exports.

Thin by design, like the org pages: a form parses the input, a selector (reads, scoped by
jiedao.core.scope) or a service (writes, which check scope again and write the audit event)
does the work, a template renders it. A record outside the viewer's scope answers 404 exactly
like a missing one; a refused action shows the service's Chinese message on the field it names,
with the error's HTTP status (400/403/409), and keeps the input.

Personal identifiers stay masked on every page and in every export unless a user with the reveal
permission asks for one value (a reason, an audit event, a no-store response) or for a revealed
export (a reason, narrowed to the rows the permission covers, audited).
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from jiedao.core import crypto, exports, filevault, imports, scope, tasks
from jiedao.core.errors import DomainError
from jiedao.core.models import ImportJob
from jiedao.core.permissions import Perm
from jiedao.core.tabular import TabularError
from jiedao.core.views import describe_events, form_error, htmx_aware, paginate, render_error, require_perm_anywhere
from jiedao.org import selectors as org_selectors
from jiedao.people import (
    exporting,
    importers,  # noqa: F401  (registers the import specs)
    selectors,
    services,
)
from jiedao.people.forms import (
    PICKER_PURPOSES,
    BusinessFilterForm,
    BusinessForm,
    ExportForm,
    HouseholdFilterForm,
    HouseholdForm,
    HouseholdHeadForm,
    ImportCommitForm,
    ImportUploadForm,
    LookupForm,
    ResidentFilterForm,
    ResidentForm,
    RevealForm,
    SpecialGroupForm,
    TagForm,
    picker_nodes,
)
from jiedao.people.models import Business, Household, Resident

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PICKER_LIMIT = 20
HISTORY_PREVIEW = 5
ERRORS_PER_PAGE = 50
# Validation always runs in the background (in a child process, see _validate); a small commit
# runs within the request (the result shows at once), a larger one as a background task, and
# the job page follows its progress.
INLINE_COMMIT_ROWS = 2000
QUEUED_COMMIT_SECONDS = 30

ACTION_LABELS = {
    "people.resident.create": gettext_lazy("登记居民"),
    "people.resident.update": gettext_lazy("修改居民"),
    "people.resident.import": gettext_lazy("导入"),
    "people.resident.reveal_id_number": gettext_lazy("查看身份证号明文"),
    "people.resident.reveal_phone": gettext_lazy("查看联系电话明文"),
    "people.resident.tag": gettext_lazy("加入特殊人群"),
    "people.resident.untag": gettext_lazy("移出特殊人群"),
    "people.household.create": gettext_lazy("登记住户"),
    "people.household.update": gettext_lazy("修改住户"),
    "people.household.set_head": gettext_lazy("设置户主"),
    "people.business.create": gettext_lazy("登记主体"),
    "people.business.update": gettext_lazy("修改主体"),
    "people.business.import": gettext_lazy("导入"),
    "people.business.reveal_phone": gettext_lazy("查看联系电话明文"),
}


def _no_store(response: HttpResponse) -> HttpResponse:
    """Pages that may carry a clear identifier (a reveal, a form echoing typed input) are never cached."""
    add_never_cache_headers(response)  # no-store, no-cache, private, max-age=0
    return response


def _history(events: Any) -> list[Any]:
    """Audit events ready for core/_audit_rows.html; blind indexes are not worth showing."""
    rows = describe_events(events)
    for event in rows:
        event.action_label = ACTION_LABELS.get(event.action, event.action_label)
        event.changes = [c for c in event.changes if not c[0].endswith("_bidx")]
    return rows


def _require(user: Any, perm: str, path: str, message: str) -> None:
    if not scope.path_allows(user, perm, path):
        raise PermissionDenied(message)


def _filter_query(request: HttpRequest) -> str:
    """The list's filters, carried in the export form's action (the job is made by a POST)."""
    return urlencode([(k, v) for k, values in request.GET.lists() if k not in ("page", "reveal", "reason")
                      for v in values])


# --- node picker --------------------------------------------------------------------------------

_FIELD_NAME = re.compile(r"^[a-z_]{1,32}$")


@login_required
def node_picker(request: HttpRequest, purpose: str) -> HttpResponse:
    """The node picker's search for the register forms: active nodes of the allowed kinds that the
    user holds the purpose's permission on (org/_picker_results.html)."""
    field = request.GET.get("field", "")
    if purpose not in PICKER_PURPOSES or not _FIELD_NAME.match(field):
        raise Http404(_("缺少字段名。"))
    text = request.GET.get(f"{field}_q", request.GET.get("q", ""))[:64].strip()
    nodes = picker_nodes(request.user, purpose)
    matches = nodes.filter(Q(name__icontains=text) | Q(code__startswith=text)) if text else nodes
    results = org_selectors.with_trails(request.user, list(matches.order_by("path")[:PICKER_LIMIT]))
    selected = request.GET.get(field, "")
    chosen = None
    if selected.isdigit():
        chosen = next((n for n in results if str(n.pk) == selected), None)
        if chosen is None:
            chosen = nodes.filter(pk=selected).first()
            if chosen is not None:
                results = [*org_selectors.with_trails(request.user, [chosen]), *results]
    context = {"name": field, "results": results, "selected": str(chosen.pk) if chosen else "", "q": text,
               "limit": PICKER_LIMIT}
    return render(request, "org/_picker_results.html", context)


# --- exports ------------------------------------------------------------------------------------


def _export(
    request: HttpRequest, *, filters: Any, register: str, list_page: Callable[[ExportForm, int], HttpResponse],
) -> HttpResponse:
    """Queue the filtered list as an export job (core.exports) and go to 我的导出: masked unless
    the user may reveal AND asks to, with a reason (checked now); a revealed export holds only
    the rows the reveal permission covers. Audited when the file is written."""
    form = ExportForm(request.POST, phones_only=register == "people.business")
    form.is_valid()
    reveal = bool(form.cleaned_data.get("reveal"))
    try:
        exports.export_request(actor=request.user, register=register, filters=filters.filters(), reveal=reveal,
                               reason=form.cleaned_data.get("reason", ""), audit_filters=filters.audit_filters())
    except DomainError as exc:
        if exc.status_code == 403:
            return render_error(request, exc)
        return list_page(form, form_error(form, exc))
    messages.success(request, _("已开始导出，完成后可在“我的导出”中下载。"))
    return redirect("exports:list")


# --- residents ----------------------------------------------------------------------------------


def _resident_filters(request: HttpRequest) -> ResidentFilterForm:
    return ResidentFilterForm(request.GET or None, user=request.user, groups=selectors.special_groups())


def _resident_list_page(request: HttpRequest, *, export_form: ExportForm | None = None, status: int = 200):
    form = _resident_filters(request)
    page = paginate(request, selectors.resident_list(request.user, **form.filters()).prefetch_related("tags__group"))
    page.object_list = list(page.object_list)
    for resident in page.object_list:  # the birth date only where the viewer may reveal; the year elsewhere
        resident.show_birth_date = scope.path_allows(request.user, Perm.REVEAL_PII, resident.node.path)
    context = {
        "form": form,
        "page": page,
        "can_manage": scope.has_perm_anywhere(request.user, Perm.MANAGE_PEOPLE),
        "can_reveal": scope.has_perm_anywhere(request.user, Perm.REVEAL_PII),
        "can_lookup": scope.has_perm_anywhere(request.user, Perm.LOOKUP_PEOPLE),
        "export_form": export_form or ExportForm(),
        "export_query": _filter_query(request),
        "tab": "residents",
        "today": timezone.localdate(),
    }
    return render(request, "people/resident_list.html", context, status=status)


@require_perm_anywhere(Perm.VIEW_PEOPLE)
def resident_list(request: HttpRequest) -> HttpResponse:
    return _resident_list_page(request)


@require_perm_anywhere(Perm.VIEW_PEOPLE)
@require_POST
def resident_export(request: HttpRequest) -> HttpResponse:
    return _export(
        request, filters=_resident_filters(request), register="people.resident",
        list_page=lambda export_form, status: _resident_list_page(request, export_form=export_form, status=status),
    )


def _reveal_box(request: HttpRequest, obj: Any, field: str, url: str, *, form: RevealForm | None = None,
                value: str | None = None) -> dict[str, Any]:
    """Context of people/_reveal.html: the masked value and, where allowed, the reveal form; after a
    reveal, the clear value instead."""
    return {"field": field, "masked": getattr(obj, f"{field}_masked"), "url": url, "value": value,
            "form": form or RevealForm(initial={"field": field}), "open": form is not None,
            "allowed": scope.path_allows(request.user, Perm.REVEAL_PII, obj.node.path)}


def _resident_page(
    request: HttpRequest, resident: Resident, *, tag_form: TagForm | None = None, reveal: dict | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    can_manage = scope.path_allows(user, Perm.MANAGE_PEOPLE, resident.node.path)
    can_reveal = scope.path_allows(user, Perm.REVEAL_PII, resident.node.path)
    url = reverse("people:resident_reveal", args=[resident.pk])
    boxes = {f: _reveal_box(request, resident, f, url) for f in ("id_number", "phone")}
    if reveal:
        boxes[reveal["field"]] = reveal
    context = {
        "resident": resident,
        "ancestors": org_selectors.node_ancestors(user, resident.node),
        "tags": selectors.resident_tags(resident),
        "can_manage": can_manage,
        "can_reveal": can_reveal,
        "reveal": boxes,
        "tag_form": (tag_form or TagForm(groups=selectors.special_groups())) if can_manage else None,
        "history": _history(selectors.resident_history(resident)[:HISTORY_PREVIEW]),
        "tab": "residents",
    }
    response = render(request, "people/resident_detail.html", context, status=status)
    return _no_store(response) if reveal else response


@require_perm_anywhere(Perm.MANAGE_PEOPLE)
def resident_new(request: HttpRequest) -> HttpResponse:
    # "登记居民" on a household page arrives with its place and number filled in.
    initial = {"node": request.GET.get("node", ""), "household_number": request.GET.get("household", "")[:32]}
    form = ResidentForm(request.POST or None, user=request.user, households=selectors.households_visible(request.user),
                        initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                resident = services.resident_create(actor=request.user, **form.values())
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已登记居民“%(name)s”。") % {"name": resident.name})
                return redirect("people:resident", pk=resident.pk)
    response = render(request, "people/resident_form.html", {"form": form, "mode": "new", "tab": "residents"},
                      status=status)
    return _no_store(response)


@login_required
def resident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _resident_page(request, selectors.resident_get(request.user, pk))


@login_required
def resident_lookup(request: HttpRequest) -> HttpResponse:
    """Find a resident by a full ID number or phone: the lookup permission, a reason; the service
    throttles and audits each lookup. The answer shows masked values and is never cached."""
    if not scope.has_perm_anywhere(request.user, Perm.LOOKUP_PEOPLE):
        raise PermissionDenied(_("您没有按身份证号或电话查找居民的权限。"))
    form = LookupForm(request.POST or None)
    found, searched = None, ""
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                found = services.resident_lookup(actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                status = 200  # the typed number is not echoed back: the answer names it masked
                searched = crypto.mask(form.cleaned_data["value"], form.cleaned_data["kind"])
                form = LookupForm(initial={"kind": form.cleaned_data["kind"], "reason": form.cleaned_data["reason"]})
    context = {"form": form, "found": found, "searched": searched, "tab": "residents"}
    return _no_store(render(request, "people/resident_lookup.html", context, status=status))


@login_required
def resident_edit(request: HttpRequest, pk: int) -> HttpResponse:
    resident = selectors.resident_get(request.user, pk)
    _require(request.user, Perm.MANAGE_PEOPLE, resident.node.path, _("您没有修改此居民信息的权限。"))
    form = ResidentForm(request.POST or None, user=request.user, resident=resident,
                        households=selectors.households_visible(request.user))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.resident_update(actor=request.user, resident=resident, **form.values())
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已保存。"))
                return redirect("people:resident", pk=resident.pk)
    context = {"form": form, "mode": "edit", "resident": resident, "tab": "residents"}
    return _no_store(render(request, "people/resident_form.html", context, status=status))


@login_required
@require_POST
def resident_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    """One identifier in clear, inline (htmx) and never cached; the service checks the reveal
    permission on the resident's place and the reason, and writes the audit event."""
    resident = selectors.resident_get(request.user, pk)
    form = RevealForm(request.POST)
    if not form.is_valid():
        raise Http404(_("未知的字段。"))
    field = form.cleaned_data["field"]
    url = reverse("people:resident_reveal", args=[resident.pk])
    try:
        value = services.resident_reveal(actor=request.user, resident=resident, field=field,
                                         reason=form.cleaned_data["reason"])
    except DomainError as exc:
        status = form_error(form, exc)
        box = _reveal_box(request, resident, field, url, form=form)
    else:
        status = 200
        box = _reveal_box(request, resident, field, url, value=value)
    if request.htmx:
        return _no_store(htmx_aware(render(request, "people/_reveal.html", {"box": box}, status=status)))
    return _resident_page(request, resident, reveal=box, status=status)


@login_required
def resident_history(request: HttpRequest, pk: int) -> HttpResponse:
    resident = selectors.resident_get(request.user, pk)
    page = paginate(request, selectors.resident_history(resident))
    page.object_list = _history(page.object_list)
    context = {"object": resident, "page": page, "tab": "residents", "kind": "resident",
               "back": reverse("people:resident", args=[resident.pk])}
    return render(request, "people/history.html", context)


@login_required
@require_POST
def resident_tag(request: HttpRequest, pk: int) -> HttpResponse:
    resident = selectors.resident_get(request.user, pk)
    _require(request.user, Perm.MANAGE_PEOPLE, resident.node.path, _("您没有修改此居民信息的权限。"))
    form = TagForm(request.POST, groups=selectors.special_groups())
    if not form.is_valid():
        return _resident_page(request, resident, tag_form=form, status=400)
    try:
        tag = services.resident_tag(actor=request.user, resident=resident, **form.values())
    except DomainError as exc:
        return _resident_page(request, resident, tag_form=form, status=form_error(form, exc, form.aliases()))
    messages.success(request, _("已加入“%(group)s”。") % {"group": tag.group.name})
    return redirect("people:resident", pk=resident.pk)


@login_required
@require_POST
def resident_untag(request: HttpRequest, pk: int, tag_pk: int) -> HttpResponse:
    resident = selectors.resident_get(request.user, pk)
    tag = selectors.resident_tag_get(request.user, resident, tag_pk)
    try:
        services.resident_untag(actor=request.user, tag=tag)
    except DomainError as exc:
        return render_error(request, exc)
    messages.success(request, _("已移出“%(group)s”。") % {"group": tag.group.name})
    return redirect("people:resident", pk=resident.pk)


# --- households ---------------------------------------------------------------------------------


@require_perm_anywhere(Perm.VIEW_PEOPLE)
def household_list(request: HttpRequest) -> HttpResponse:
    form = HouseholdFilterForm(request.GET or None, user=request.user)
    households = selectors.household_list(request.user, **form.filters())
    context = {"form": form, "page": paginate(request, households), "tab": "households",
               "can_manage": scope.has_perm_anywhere(request.user, Perm.MANAGE_PEOPLE),
               "export_query": _filter_query(request)}
    return render(request, "people/household_list.html", context)


@require_perm_anywhere(Perm.VIEW_PEOPLE)
@require_POST
def household_export(request: HttpRequest) -> HttpResponse:
    """Households hold no personal identifiers: always a plain (audited) export."""
    form = HouseholdFilterForm(request.GET or None, user=request.user)
    try:
        exports.export_request(actor=request.user, register="people.household", filters=form.filters(),
                               audit_filters=form.audit_filters())
    except DomainError as exc:
        return render_error(request, exc)
    messages.success(request, _("已开始导出，完成后可在“我的导出”中下载。"))
    return redirect("exports:list")


def _household_page(request: HttpRequest, household: Household, *, head_form: HouseholdHeadForm | None = None,
                    status: int = 200) -> HttpResponse:
    members = selectors.household_members(request.user, household)
    can_manage = scope.path_allows(request.user, Perm.MANAGE_PEOPLE, household.node.path)
    context = {
        "household": household,
        "ancestors": org_selectors.node_ancestors(request.user, household.node),
        "members": members,
        "can_manage": can_manage,
        "head_form": (head_form or HouseholdHeadForm(members=members, initial={"head": household.head_id}))
        if can_manage else None,
        "history": _history(selectors.record_history(household)[:HISTORY_PREVIEW]),
        "tab": "households",
    }
    return render(request, "people/household_detail.html", context, status=status)


@require_perm_anywhere(Perm.MANAGE_PEOPLE)
def household_new(request: HttpRequest) -> HttpResponse:
    form = HouseholdForm(request.POST or None, user=request.user)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                household = services.household_create(actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已登记住户“%(number)s”。") % {"number": household.number})
                return redirect("people:household", pk=household.pk)
    return render(request, "people/household_form.html", {"form": form, "mode": "new", "tab": "households"},
                  status=status)


@login_required
def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _household_page(request, selectors.household_get(request.user, pk))


@login_required
def household_edit(request: HttpRequest, pk: int) -> HttpResponse:
    household = selectors.household_get(request.user, pk)
    _require(request.user, Perm.MANAGE_PEOPLE, household.node.path, _("您没有修改此住户信息的权限。"))
    form = HouseholdForm(request.POST or None, user=request.user, household=household)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.household_update(actor=request.user, household=household, **form.cleaned_data)
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已保存。"))
                return redirect("people:household", pk=household.pk)
    context = {"form": form, "mode": "edit", "household": household, "tab": "households"}
    return render(request, "people/household_form.html", context, status=status)


@login_required
@require_POST
def household_head(request: HttpRequest, pk: int) -> HttpResponse:
    household = selectors.household_get(request.user, pk)
    _require(request.user, Perm.MANAGE_PEOPLE, household.node.path, _("您没有修改此住户信息的权限。"))
    form = HouseholdHeadForm(request.POST, members=selectors.household_members(request.user, household))
    if not form.is_valid():
        return _household_page(request, household, head_form=form, status=400)
    try:
        services.household_set_head(actor=request.user, household=household, head=form.cleaned_data["head"])
    except DomainError as exc:
        return _household_page(request, household, head_form=form, status=form_error(form, exc))
    messages.success(request, _("已设置户主。"))
    return redirect("people:household", pk=household.pk)


@login_required
def household_history(request: HttpRequest, pk: int) -> HttpResponse:
    household = selectors.household_get(request.user, pk)
    page = paginate(request, selectors.record_history(household))
    page.object_list = _history(page.object_list)
    context = {"object": household, "page": page, "tab": "households", "kind": "household",
               "back": reverse("people:household", args=[household.pk])}
    return render(request, "people/history.html", context)


# --- special groups -----------------------------------------------------------------------------


@require_perm_anywhere(Perm.VIEW_PEOPLE)
def group_list(request: HttpRequest) -> HttpResponse:
    can_manage = scope.has_perm_anywhere(request.user, Perm.MANAGE_ORG)
    form = SpecialGroupForm(request.POST or None) if can_manage else None
    status = 200
    if request.method == "POST" and request.POST.get("interval_of"):
        # the visit interval of one group (jiedao.welfare's visit schedules follow it at once)
        group = get_object_or_404(selectors.special_groups(), pk=request.POST["interval_of"])
        raw = request.POST.get("visit_interval_days", "").strip()
        try:
            days = int(raw) if raw else None
        except ValueError:
            days = -1
        try:
            services.special_group_set_interval(actor=request.user, group=group, visit_interval_days=days)
        except DomainError as exc:
            return render_error(request, exc)
        messages.success(request, _("已修改“%(name)s”的走访周期。") % {"name": group.name})
        return redirect("people:groups")
    if request.method == "POST":
        if form is None:
            raise PermissionDenied(_("只有系统管理员可以新建特殊人群类别。"))
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                group = services.special_group_create(
                    actor=request.user, code=data["code"], name=data["name"], fields=data["fields_text"],
                    visit_interval_days=data["visit_interval_days"],
                )
            except DomainError as exc:
                status = form_error(form, exc, {"fields": "fields_text"})
            else:
                messages.success(request, _("已新建类别“%(name)s”。") % {"name": group.name})
                return redirect("people:groups")
    context = {"groups": selectors.special_groups(), "form": form, "tab": "groups", "can_manage": can_manage}
    return render(request, "people/group_list.html", context, status=status)


# --- businesses ---------------------------------------------------------------------------------


def _business_list_page(request: HttpRequest, *, export_form: ExportForm | None = None, status: int = 200):
    form = BusinessFilterForm(request.GET or None, user=request.user)
    context = {
        "form": form,
        "page": paginate(request, selectors.business_list(request.user, **form.filters())),
        "can_manage": scope.has_perm_anywhere(request.user, Perm.MANAGE_BUSINESSES),
        "can_reveal": scope.has_perm_anywhere(request.user, Perm.REVEAL_PII),
        "can_lookup": scope.has_perm_anywhere(request.user, Perm.LOOKUP_PEOPLE),
        "export_form": export_form or ExportForm(phones_only=True),
        "export_query": _filter_query(request),
    }
    return render(request, "people/business_list.html", context, status=status)


@require_perm_anywhere(Perm.VIEW_BUSINESSES)
def business_list(request: HttpRequest) -> HttpResponse:
    return _business_list_page(request)


@require_perm_anywhere(Perm.VIEW_BUSINESSES)
@require_POST
def business_export(request: HttpRequest) -> HttpResponse:
    form = BusinessFilterForm(request.GET or None, user=request.user)
    return _export(
        request, filters=form, register="people.business",
        list_page=lambda export_form, status: _business_list_page(request, export_form=export_form, status=status),
    )


def _business_page(request: HttpRequest, business: Business, *, reveal: dict | None = None,
                   status: int = 200) -> HttpResponse:
    user = request.user
    box = reveal or _reveal_box(request, business, "phone", reverse("people:business_reveal", args=[business.pk]))
    context = {
        "business": business,
        "ancestors": org_selectors.node_ancestors(user, business.node),
        "can_manage": scope.path_allows(user, Perm.MANAGE_BUSINESSES, business.node.path),
        "can_reveal": scope.path_allows(user, Perm.REVEAL_PII, business.node.path),
        "reveal": box,
        "history": _history(selectors.record_history(business)[:HISTORY_PREVIEW]),
    }
    response = render(request, "people/business_detail.html", context, status=status)
    return _no_store(response) if reveal else response


@require_perm_anywhere(Perm.MANAGE_BUSINESSES)
def business_new(request: HttpRequest) -> HttpResponse:
    form = BusinessForm(request.POST or None, user=request.user)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                business = services.business_create(actor=request.user, **form.values())
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已登记“%(name)s”。") % {"name": business.name})
                return redirect("people:business", pk=business.pk)
    return _no_store(render(request, "people/business_form.html", {"form": form, "mode": "new"}, status=status))


@login_required
def business_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _business_page(request, selectors.business_get(request.user, pk))


@login_required
def business_edit(request: HttpRequest, pk: int) -> HttpResponse:
    business = selectors.business_get(request.user, pk)
    _require(request.user, Perm.MANAGE_BUSINESSES, business.node.path, _("您没有修改此主体信息的权限。"))
    form = BusinessForm(request.POST or None, user=request.user, business=business)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.business_update(actor=request.user, business=business, **form.values())
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已保存。"))
                return redirect("people:business", pk=business.pk)
    context = {"form": form, "mode": "edit", "business": business}
    return _no_store(render(request, "people/business_form.html", context, status=status))


@login_required
@require_POST
def business_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    business = selectors.business_get(request.user, pk)
    form = RevealForm(request.POST)
    form.is_valid()
    url = reverse("people:business_reveal", args=[business.pk])
    try:
        value = services.business_reveal(actor=request.user, business=business,
                                         reason=form.cleaned_data.get("reason", ""))
    except DomainError as exc:
        status = form_error(form, exc)
        box = _reveal_box(request, business, "phone", url, form=form)
    else:
        status = 200
        box = _reveal_box(request, business, "phone", url, value=value)
    if request.htmx:
        return _no_store(htmx_aware(render(request, "people/_reveal.html", {"box": box}, status=status)))
    return _business_page(request, business, reveal=box, status=status)


@login_required
def business_history(request: HttpRequest, pk: int) -> HttpResponse:
    business = selectors.business_get(request.user, pk)
    page = paginate(request, selectors.record_history(business))
    page.object_list = _history(page.object_list)
    context = {"object": business, "page": page, "kind": "business",
               "back": reverse("people:business", args=[business.pk])}
    return render(request, "people/history.html", context)


# --- imports ------------------------------------------------------------------------------------


def _import_registers(user: Any) -> list[tuple[str, str]]:
    """(register key, Chinese name) the user may import into."""
    return [(key, imports.get_spec(key).label) for key, perm in exporting.IMPORT_PERMISSIONS.items()
            if scope.has_perm_anywhere(user, perm)]


def _import_page(request: HttpRequest, *, form: ImportUploadForm | None = None, status: int = 200) -> HttpResponse:
    registers = _import_registers(request.user)
    if not registers:
        raise PermissionDenied(_("您没有导入数据的权限。"))
    context = {
        "registers": [(key, label, imports.get_spec(key)) for key, label in registers],
        "form": form or ImportUploadForm(registers=registers),
        "jobs": selectors.import_jobs(request.user)[:20],
    }
    return render(request, "people/import_index.html", context, status=status)


@login_required
def import_index(request: HttpRequest) -> HttpResponse:
    return _import_page(request)


@login_required
def import_template(request: HttpRequest, register: str) -> HttpResponse:
    if register not in dict(_import_registers(request.user)):
        raise Http404(_("未知的登记簿。"))
    spec = imports.get_spec(register)
    return FileResponse(io.BytesIO(imports.template_xlsx(spec)), as_attachment=True,
                        filename=f"{spec.label}导入模板.xlsx", content_type=XLSX)


def _validate(job: ImportJob) -> None:
    """Validation never runs in the request: a hostile file, however small, is read in a child
    process with capped memory (the job page polls until it is done)."""
    tasks.submit_isolated("jiedao.core.imports.import_validate_by_id", job.pk,
                          on_crash="jiedao.core.imports.import_validate_crashed")


@login_required
@require_POST
def import_upload(request: HttpRequest) -> HttpResponse:
    registers = _import_registers(request.user)
    if not registers:
        raise PermissionDenied(_("您没有导入数据的权限。"))
    form = ImportUploadForm(request.POST, request.FILES, registers=registers)
    if not form.is_valid():
        return _import_page(request, form=form, status=400)
    data = form.cleaned_data
    try:
        job = imports.import_upload(actor=request.user, register_key=data["register"], uploaded=data["file"],
                                    mode=data["mode"])
    except DomainError as exc:
        return _import_page(request, form=form, status=form_error(form, exc, {"register": "register"}))
    _validate(job)
    return redirect("people:import_job", pk=job.pk)


def _job(request: HttpRequest, pk: int) -> ImportJob:
    """The user's own job (another user's answers 404); a job whose process died is marked so."""
    job = selectors.import_job_get(request.user, pk)
    if imports.is_stale(job):
        job = imports.import_mark_interrupted(job)
    return job


def _can_commit(job: ImportJob) -> bool:
    return job.status == ImportJob.Status.VALIDATED and job.good_rows > 0


def _queued(job: ImportJob) -> bool:
    """Uploaded and waiting for the background validation to start (not an interrupted job)."""
    age = (timezone.now() - job.created_at).total_seconds()
    return job.status == ImportJob.Status.UPLOADED and not job.message and age < imports.STALE_AFTER_SECONDS


def _commit_queued(request: HttpRequest, job: ImportJob) -> bool:
    """A commit handed to the background a moment ago that the worker has not claimed yet."""
    since = request.GET.get("queued", "")
    return (job.status == ImportJob.Status.VALIDATED and since.isdigit()
            and 0 <= time.time() - int(since) < QUEUED_COMMIT_SECONDS)


def _job_page(request: HttpRequest, job: ImportJob, *, commit_form: ImportCommitForm | None = None,
              status: int = 200) -> HttpResponse:
    commit_queued = _commit_queued(request, job)
    running = job.status in (ImportJob.Status.VALIDATING, ImportJob.Status.COMMITTING) or _queued(job) or commit_queued
    progress = imports.read_progress(job)
    total = max(int(progress.get("total") or 0), 1)
    done = min(int(progress.get("done") or 0), total)
    errors = Paginator(exporting.ImportErrorLines(job), ERRORS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "job": job,
        "register_label": imports.get_spec(job.register).label,
        "running": running,
        "progress": {"done": done, "total": total, "percent": done * 100 // total, "phase": progress.get("phase")},
        "errors": errors,
        "can_commit": _can_commit(job) and not commit_queued,
        "can_cancel": job.status in imports.CANCELLABLE and not running and job.created_by_id == request.user.pk,
        "poll_url": reverse("people:import_job", args=[job.pk])
        + (f"?queued={request.GET['queued']}" if commit_queued else ""),
        "commit_form": commit_form or ImportCommitForm(initial={"mode": job.mode}),
        "interrupted": job.status == ImportJob.Status.UPLOADED and not _queued(job),
        "has_bad_rows": job.bad_rows > 0 and job.status in (ImportJob.Status.VALIDATED, ImportJob.Status.COMMITTED),
        "links": {
            "validate": reverse("people:import_validate", args=[job.pk]),
            "commit": reverse("people:import_commit", args=[job.pk]),
            "bad_rows": reverse("people:import_bad_rows", args=[job.pk]),
            "cancel": reverse("people:import_cancel", args=[job.pk]),
            "home": reverse("people:imports"), "home_label": _("返回数据导入"),
            "restart_label": _("返回数据导入，下载模板后重新上传"), "resume_place": _("数据导入"),
            "done": [(reverse("people:residents" if job.register == "residents" else "people:businesses"),
                      _("查看%(label)s") % {"label": imports.get_spec(job.register).label})],
        },
    }
    template = "includes/import_job_body.html" if request.htmx else "people/import_job.html"
    return htmx_aware(render(request, template, context, status=status))


@login_required
def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    return _job_page(request, _job(request, pk))


@login_required
@require_POST
def import_commit(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    form = ImportCommitForm(request.POST)
    if not form.is_valid():
        return _job_page(request, job, commit_form=form, status=400)
    try:
        job = imports.import_set_mode(actor=request.user, job=job, mode=form.cleaned_data["mode"])
        if not _can_commit(job):
            raise DomainError(_("该导入作业当前不能提交（状态：%(status)s）。") % {"status": job.get_status_display()},
                              field="mode")
        if job.mode == ImportJob.Mode.ALL_OR_NOTHING and job.bad_rows:
            raise DomainError(
                _("文件中有 %(n)s 行错误，“全部成功才导入”方式下不能提交：请改正后重新上传，或改为“只导入正确的行”。")
                % {"n": job.bad_rows},
                field="mode",
            )
        imports.import_check(actor=request.user, register_key=job.register)
        if job.good_rows > INLINE_COMMIT_ROWS:
            tasks.submit("jiedao.core.imports.import_commit_by_id", job.pk, request.user.pk)
            # The page follows the job from now on, even before the worker has claimed it.
            return redirect(reverse("people:import_job", args=[job.pk]) + f"?queued={int(time.time())}")
        job = imports.import_commit(actor=request.user, job=job)
    except DomainError as exc:
        job.refresh_from_db()
        return _job_page(request, job, commit_form=form, status=form_error(form, exc, {"status": "mode"}))
    return redirect("people:import_job", pk=job.pk)  # the job page states the result


@login_required
@require_POST
def import_validate(request: HttpRequest, pk: int) -> HttpResponse:
    """Validate again a job whose processing was interrupted (nothing was written)."""
    job = _job(request, pk)
    if job.status != ImportJob.Status.UPLOADED or _queued(job):
        return render_error(request, DomainError(_("该导入作业当前不需要重新校验。")))
    _validate(job)
    return redirect("people:import_job", pk=job.pk)


@login_required
@require_POST
def import_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Give up a waiting job: its files are deleted at once."""
    job = _job(request, pk)
    try:
        imports.import_cancel(actor=request.user, job=job)
    except DomainError as exc:
        return render_error(request, exc)
    return redirect("people:import_job", pk=job.pk)


@login_required
def import_bad_rows(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    if job.status not in (ImportJob.Status.VALIDATED, ImportJob.Status.COMMITTED) or not job.bad_rows:
        raise Http404(_("该导入作业没有错误行。"))
    try:
        data = imports.bad_rows_xlsx(job, actor=request.user)
    except (OSError, TabularError, filevault.VaultError):
        return render_error(request, DomainError(_("原上传文件已无法读取，请重新上传。")))
    response = FileResponse(io.BytesIO(data), as_attachment=True, filename=f"{job.pk}-错误行.xlsx", content_type=XLSX)
    return _no_store(response)
