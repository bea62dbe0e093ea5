"""Staff pages of safety inspections: the overview with the figures, campaigns and their 排摸
coverage, the businesses to inspect, the inspection form (made for a phone), hazards and their
actions, and the 三色 rule.

Thin like the other apps' pages: a form parses, a selector (scoped by jiedao.core.scope) reads, a
service (which checks scope again and writes the audit event) writes. A record outside the
viewer's scope answers 404; a refused action shows the service's Chinese message on the field it
names, with the error's HTTP status, and keeps what was entered.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from jiedao.core import scope
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.core.views import form_error, paginate, render_error, require_perm_anywhere
from jiedao.safety import selectors, services, workflow
from jiedao.safety.forms import (
    BusinessFilterForm,
    CampaignForm,
    HazardActionForm,
    HazardFilterForm,
    InspectionForm,
    RiskRuleForm,
    TemplateForm,
    TenancyForm,
)
from jiedao.safety.workflow import HazardAction


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@require_perm_anywhere(Perm.VIEW_SAFETY)
def index(request: HttpRequest) -> HttpResponse:
    user = request.user
    today = timezone.localdate()
    start = today.replace(month=1, day=1)
    figures = selectors.figures(user, start, today)
    campaigns = selectors.campaigns_running(user, today)[:10]
    context = {
        "figures": figures, "start": start, "end": today,
        "rates": [(_("排摸覆盖率"), _percent(figures.coverage_rate)), (_("整改率"), _percent(figures.rectification_rate)),
                  (_("按期整改率"), _percent(figures.on_time_rate))],
        "colours": selectors.colour_counts(user), "campaigns": campaigns,
        "can_manage": scope.has_perm_anywhere(user, Perm.MANAGE_SAFETY),
        "can_inspect": scope.has_perm_anywhere(user, Perm.INSPECT_SAFETY),
    }
    return render(request, "safety/index.html", context)


# --- campaigns ----------------------------------------------------------------------------------


@require_perm_anywhere(Perm.VIEW_SAFETY)
def campaign_list(request: HttpRequest) -> HttpResponse:
    page = paginate(request, selectors.campaigns_visible(request.user).order_by("-starts_on", "-pk"))
    counts = selectors.campaign_target_counts(request.user, [c.pk for c in page.object_list])
    for campaign in page.object_list:
        campaign.n_targets = counts.get(campaign.pk, 0)  # the targets this viewer may see
    return render(request, "safety/campaign_list.html", {
        "page": page, "today": timezone.localdate(),
        "can_manage": scope.has_perm_anywhere(request.user, Perm.MANAGE_SAFETY)})


@require_perm_anywhere(Perm.MANAGE_SAFETY)
def campaign_new(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None, user=request.user)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                campaign = services.campaign_create(actor=request.user, owners=[request.user], **form.values())
            except DomainError as exc:
                status = form_error(form, exc, {"nodes": "grids", "rule": None, "businesses": None})
            else:
                messages.success(request, _("已制定行动“%(title)s”，排摸对象 %(n)s 家。")
                                 % {"title": campaign.title, "n": campaign.targets.count()})
                return redirect("safety:campaign", pk=campaign.pk)
    return render(request, "safety/campaign_form.html", {"form": form}, status=status)


@login_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_get(request.user, pk)
    coverage = selectors.campaign_coverage(request.user, campaign)
    pending = selectors.campaign_pending(request.user, campaign)
    return render(request, "safety/campaign_detail.html", {
        "campaign": campaign, "coverage": coverage, "rate": _percent(coverage.total.rate),
        "pending": pending[:200], "pending_count": pending.count(),
        "can_inspect": scope.has_perm_anywhere(request.user, Perm.INSPECT_SAFETY),
    })


# --- businesses ---------------------------------------------------------------------------------


@require_perm_anywhere(Perm.VIEW_SAFETY)
def business_list(request: HttpRequest) -> HttpResponse:
    form = BusinessFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    place = None
    if filters.get("node"):  # the map's links: the businesses under one grid or unit
        place = selectors.area_get(request.user, filters["node"])
        form.place = place
    page = paginate(request, selectors.business_search(request.user, q=filters.get("q") or "",
                                                       colour=filters.get("colour") or "", place=place))
    selectors.business_facts(request.user, page.object_list)
    return render(request, "safety/business_list.html", {
        "form": form, "page": page, "can_inspect": scope.has_perm_anywhere(request.user, Perm.INSPECT_SAFETY)})


def _business_page(request: HttpRequest, business: Any, *, tenancy_form: TenancyForm | None = None,
                   status: int = 200) -> HttpResponse:
    user = request.user
    return render(request, "safety/business_detail.html", {
        "business": business, "site": selectors.site_of(business),
        "tenants": selectors.tenants_of(user, business),
        "hazards": selectors.hazard_list(user, business=business.pk)[:50],
        "inspections": selectors.business_inspections(user, business)[:20],
        "changes": selectors.risk_changes(user, business)[:20],
        "can_inspect": scope.path_allows(user, Perm.INSPECT_SAFETY, business.node.path),
        "tenancy_form": tenancy_form or TenancyForm(user=user, business=business), "now": timezone.now(),
    }, status=status)


@login_required
def business_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _business_page(request, selectors.business_get(request.user, pk))


@login_required
@require_POST
def tenancy_set(request: HttpRequest, pk: int) -> HttpResponse:
    business = selectors.business_get(request.user, pk)
    form = TenancyForm(request.POST, user=request.user, business=business)
    if not form.is_valid():
        return _business_page(request, business, tenancy_form=form, status=400)
    try:
        site = selectors.business_get(request.user, form.cleaned_data["site"])
        services.tenancy_set(actor=request.user, site=site, tenant=business, kind=form.cleaned_data["kind"])
    except DomainError as exc:
        return _business_page(request, business, tenancy_form=form, status=form_error(form, exc, {"tenant": None}))
    messages.success(request, _("已登记所在园区/厂区。"))
    return redirect("safety:business", pk=business.pk)


# --- inspections --------------------------------------------------------------------------------


@login_required
def inspection_new(request: HttpRequest, pk: int) -> HttpResponse:
    """The inspection form, one page a phone can fill: choose the checklist (a link per checklist
    reloads the form with it), answer each item, add other findings, the contact confirms."""
    user = request.user
    business = selectors.business_get(user, pk)
    if not scope.path_allows(user, Perm.INSPECT_SAFETY, business.node.path):
        raise PermissionDenied(_("您没有检查此主体的权限。"))
    templates = list(selectors.templates_for(user, business))
    chosen = request.POST.get("template") or request.GET.get("template")
    template = next((t for t in templates if str(t.pk) == chosen), None)
    today = timezone.localdate()
    campaigns = selectors.campaigns_running_for(user, business, today)
    if template is None and chosen is None and campaigns:
        template = next((t for t in templates if t.field == campaigns[0].field), None)
    site = selectors.site_of(business)
    site_inspection = None
    if site is not None:
        site_inspection = selectors.site_inspection_today(user, site.site, today)
    initial = {"campaign": campaigns[0].pk} if campaigns else {}
    form = InspectionForm(request.POST or None, template=template, campaigns=campaigns, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            campaign = next((c for c in campaigns if c.pk == form.cleaned_data["campaign"]), None)
            try:
                with transaction.atomic():
                    inspection = services.inspection_record(
                        actor=user, business=business, template=template, campaign=campaign,
                        site_inspection=site_inspection if request.POST.get("with_site") else None, **form.values())
                    if not getattr(inspection, "replayed", False):  # sent again: its photos are already in
                        services.photos_add(actor=user, inspection=inspection,
                                            uploads=request.FILES.getlist("photos"))
            except DomainError as exc:
                field = exc.field or ""
                if field.startswith("findings["):
                    field = "finding_" + field[len("findings["):].split("]")[0]
                elif field.startswith("answers."):
                    field = "item_" + field.split(".", 1)[1]
                status = form_error(form, exc, {exc.field or "": field})
            else:
                if getattr(inspection, "replayed", False):
                    messages.info(request, _("这次检查此前已经登记，没有重复登记。"))
                else:
                    messages.success(request, _("已登记检查，发现隐患 %(n)s 个。") % {"n": inspection.hazard_count})
                return redirect("safety:inspection", pk=inspection.pk)
    return render(request, "safety/inspection_form.html", {
        "business": business, "form": form, "templates": templates, "template": template,
        "site": site, "site_inspection": site_inspection,
        "tenants": selectors.tenants_of(user, business) if site is None else [],
    }, status=status)


@login_required
def inspection_detail(request: HttpRequest, pk: int) -> HttpResponse:
    inspection = selectors.inspection_get(request.user, pk)
    page = selectors.inspection_page(request.user, inspection)
    return render(request, "safety/inspection_detail.html", {
        "inspection": inspection, "hazards": page.hazards, "tenants_done": page.tenants_done,
        "photos": page.photos, "pending_tenants": page.pending_tenants, "now": timezone.now(),
        "can_inspect": scope.path_allows(request.user, Perm.INSPECT_SAFETY, inspection.node.path),
    })


# --- hazards ------------------------------------------------------------------------------------


@require_perm_anywhere(Perm.VIEW_SAFETY)
def hazard_list(request: HttpRequest) -> HttpResponse:
    form = HazardFilterForm(request.GET or None)
    qs = selectors.hazard_list(request.user, **form.filters())
    return render(request, "safety/hazard_list.html", {"form": form, "page": paginate(request, qs),
                                                        "now": timezone.now()})


def _hazard_page(request: HttpRequest, hazard: Any, *, failed: HazardActionForm | None = None,
                 status: int = 200) -> HttpResponse:
    user = request.user
    kinds = services.hazard_actor_kinds(user, hazard)
    actions = []
    for action in workflow.allowed_actions(hazard.state, kinds, current=hazard, actor=user):
        row = workflow.find(action, hazard.state)
        form = failed if failed is not None and failed.data.get("action") == action else \
            HazardActionForm(initial={"action": action})
        actions.append({"action": action, "label": HazardAction(action).label, "row": row, "form": form})
    steps = selectors.hazard_steps(hazard)
    for step in steps:
        step.label = _("检查发现") if step.action == "report" else HazardAction(step.action).label
    photos = selectors.hazard_photos(hazard)
    return render(request, "safety/hazard_detail.html", {
        "photos": photos,
        "hazard": hazard, "actions": actions, "steps": steps,
        "overdue": hazard.is_overdue,
    }, status=status)


@login_required
def hazard_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _hazard_page(request, selectors.hazard_get(request.user, pk))


@login_required
@require_POST
def hazard_act(request: HttpRequest, pk: int) -> HttpResponse:
    hazard = selectors.hazard_get(request.user, pk)
    form = HazardActionForm(request.POST)
    if not form.is_valid():
        return _hazard_page(request, hazard, failed=form, status=400)
    try:
        with transaction.atomic():
            hazard = services.hazard_act(actor=request.user, hazard=hazard, action=form.cleaned_data["action"],
                                         reason=form.cleaned_data["reason"], **form.params())
            if hazard.inspection_id:
                services.photos_add(actor=request.user, inspection=hazard.inspection, hazard=hazard,
                                    uploads=request.FILES.getlist("photos"))
    except DomainError as exc:
        if exc.status_code == 409 or exc.field not in form.fields:
            if exc.status_code == 403:
                return render_error(request, exc)
            form.add_error(None, exc.message)
            return _hazard_page(request, selectors.hazard_get(request.user, pk), failed=form, status=exc.status_code)
        return _hazard_page(request, hazard, failed=form, status=form_error(form, exc))
    messages.success(request, _("已%(action)s。") % {"action": HazardAction(form.cleaned_data["action"]).label})
    return redirect("safety:hazard", pk=hazard.pk)


# --- the 三色 rule ------------------------------------------------------------------------------


def _subdistrict_or_choose(request: HttpRequest, *, perm: str = Perm.VIEW_SAFETY,
                           context: dict[str, Any] | None = None) -> Any:
    """The sub-district the page acts on (`?subdistrict=` or the only one); a user of several
    who has not chosen gets a page to choose — never "the first one"."""
    subdistrict = selectors.subdistrict_chosen(request.user, request.GET.get("subdistrict")
                                               or request.POST.get("subdistrict"), perm=perm)
    if subdistrict is not None:
        return subdistrict
    choices = selectors.subdistricts_of(request.user) if perm == Perm.VIEW_SAFETY else \
        selectors.subdistricts_managed(request.user)
    if not choices:
        if perm == Perm.VIEW_SAFETY:
            raise Http404(_("未找到该对象。"))
        raise PermissionDenied(_("检查表由街道统一维护。"))
    return render(request, "safety/choose_subdistrict.html", {"choices": choices, "next": request.path,
                                                               **(context or {})})


@require_perm_anywhere(Perm.VIEW_SAFETY)
def risk_rule(request: HttpRequest) -> HttpResponse:
    subdistrict = _subdistrict_or_choose(request, context={"title": _("三色风险规则")})
    if isinstance(subdistrict, HttpResponse):
        return subdistrict
    rule = services.rule_for(subdistrict.pk)
    can_manage = scope.path_allows(request.user, Perm.MANAGE_SAFETY, subdistrict.path)
    form = RiskRuleForm(request.POST or None, rule=rule)
    status = 200
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied(_("您没有修改三色规则的权限。"))
        status = 400
        if form.is_valid():
            try:
                services.risk_rule_update(actor=request.user, subdistrict=subdistrict, **form.cleaned_data)
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已保存。正在按新规则重新评定本街道主体，完成后等级变化会列在下方。"))
                return redirect(f"{reverse('safety:risk_rule')}?subdistrict={subdistrict.pk}")
    return render(request, "safety/risk_rule.html", {
        "form": form, "subdistrict": subdistrict, "rule": rule, "can_manage": can_manage,
        "changes": selectors.risk_rule_changes(request.user, subdistrict)[:30],
        "others": len(selectors.subdistricts_of(request.user)) > 1,
    }, status=status)


@login_required
def photo(request: HttpRequest, pk: int) -> HttpResponse:
    """One photo, decrypted from the vault for a user who sees its inspection."""
    item = selectors.photo_get(request.user, pk)
    response = HttpResponse(services.photo_bytes(item), content_type=item.content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- checklists ---------------------------------------------------------------------------------


@require_perm_anywhere(Perm.VIEW_SAFETY)
def template_list(request: HttpRequest) -> HttpResponse:
    templates = selectors.templates_usable(request.user).select_related("node")
    managed = {node.pk for node in selectors.subdistricts_managed(request.user)}
    return render(request, "safety/template_list.html", {"templates": templates, "can_manage": bool(managed),
                                                         "managed_ids": managed})


def _template_form(request: HttpRequest, template: Any = None) -> HttpResponse:
    if template is not None:  # the checklist's own sub-district
        subdistrict = template.node
        if not scope.path_allows(request.user, Perm.MANAGE_SAFETY, subdistrict.path):
            raise PermissionDenied(_("检查表由街道统一维护。"))
    else:  # the one the user chose (or their only one)
        subdistrict = _subdistrict_or_choose(request, perm=Perm.MANAGE_SAFETY,
                                             context={"title": _("新建检查表")})
        if isinstance(subdistrict, HttpResponse):
            return subdistrict
    form = TemplateForm(request.POST or None, template=template)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            d = form.cleaned_data
            try:
                if template is None:
                    template = services.template_create(actor=request.user, node=subdistrict, field=d["field"],
                                                        name=d["name"], items=d["items"])
                    if not d["is_active"]:
                        services.template_update(actor=request.user, template=template, is_active=False)
                else:
                    services.template_update(actor=request.user, template=template, name=d["name"],
                                             is_active=d["is_active"], items=d["items"])
            except DomainError as exc:
                status = form_error(form, exc, {exc.field or "": "items" if (exc.field or "").startswith("items")
                                                else exc.field})
            else:
                messages.success(request, _("已保存检查表“%(name)s”。") % {"name": d["name"]})
                return redirect("safety:templates")
    return render(request, "safety/template_form.html", {"form": form, "template": template,
                                                         "subdistrict": subdistrict}, status=status)


@require_perm_anywhere(Perm.MANAGE_SAFETY)
def template_new(request: HttpRequest) -> HttpResponse:
    return _template_form(request)


@require_perm_anywhere(Perm.MANAGE_SAFETY)
def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _template_form(request, selectors.template_get(request.user, pk))
