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
from django.db.models import Count, Max, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from jiedao.core import scope
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.core.views import form_error, paginate, render_error, require_perm_anywhere
from jiedao.org.models import OrgNode
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
from jiedao.safety.models import OPEN_STATES, CampaignTarget, SafetyPhoto
from jiedao.safety.workflow import HazardAction


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@require_perm_anywhere(Perm.VIEW_SAFETY)
def index(request: HttpRequest) -> HttpResponse:
    user = request.user
    today = timezone.localdate()
    start = today.replace(month=1, day=1)
    figures = selectors.figures(user, start, today)
    campaigns = selectors.campaigns_visible(user).filter(ends_on__gte=today)[:10]
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
    campaigns = selectors.campaigns_visible(request.user).annotate(n_targets=Count("targets")).order_by("-starts_on", "-pk")
    return render(request, "safety/campaign_list.html", {
        "page": paginate(request, campaigns), "today": timezone.localdate(),
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
    inspected = set(campaign.inspections.values_list("business_id", flat=True))
    pending = (scope.restrict(CampaignTarget.objects.filter(campaign=campaign), request.user, Perm.VIEW_SAFETY)
               .exclude(business_id__in=inspected).select_related("business", "business__node", "inspector")
               .order_by("business__node__path", "business__name"))
    return render(request, "safety/campaign_detail.html", {
        "campaign": campaign, "coverage": coverage, "rate": _percent(coverage.total.rate),
        "pending": pending[:200], "pending_count": pending.count(),
        "can_inspect": scope.has_perm_anywhere(request.user, Perm.INSPECT_SAFETY),
    })


# --- businesses ---------------------------------------------------------------------------------


@require_perm_anywhere(Perm.VIEW_SAFETY)
def business_list(request: HttpRequest) -> HttpResponse:
    form = BusinessFilterForm(request.GET or None)
    qs = selectors.businesses_visible(request.user).filter(is_active=True)
    if form.is_valid():
        if form.cleaned_data["q"]:
            qs = qs.filter(name__icontains=form.cleaned_data["q"])
        if form.cleaned_data["colour"]:
            qs = qs.filter(risk_colour=form.cleaned_data["colour"])
        if form.cleaned_data.get("node"):  # the map's links: the businesses under one grid or unit
            place = scope.get_scoped(OrgNode.objects.all(), request.user, Perm.VIEW_SAFETY, pk=form.cleaned_data["node"])
            qs = qs.filter(node__path__range=scope.subtree_range(place.path))
            form.place = place
    page = paginate(request, qs.order_by("node__path", "name"))
    ids = [b.pk for b in page.object_list]
    open_counts = dict(selectors.hazards_visible(request.user).filter(business_id__in=ids, state__in=OPEN_STATES)
                       .values("business_id").annotate(n=Count("pk")).values_list("business_id", "n"))
    last = dict(selectors.inspections_visible(request.user).filter(business_id__in=ids).values("business_id")
                .annotate(d=Max("inspected_on")).values_list("business_id", "d"))
    for b in page.object_list:
        b.open_hazards, b.last_inspected = open_counts.get(b.pk, 0), last.get(b.pk)
    return render(request, "safety/business_list.html", {
        "form": form, "page": page, "can_inspect": scope.has_perm_anywhere(request.user, Perm.INSPECT_SAFETY)})


def _business_page(request: HttpRequest, business: Any, *, tenancy_form: TenancyForm | None = None,
                   status: int = 200) -> HttpResponse:
    user = request.user
    return render(request, "safety/business_detail.html", {
        "business": business, "site": selectors.site_of(business),
        "tenants": selectors.tenants_of(user, business),
        "hazards": selectors.hazard_list(user, business=business.pk)[:50],
        "inspections": selectors.inspections_visible(user).filter(business=business)[:20],
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
    campaigns = list(selectors.campaigns_visible(user).filter(
        targets__business=business, starts_on__lte=today, ends_on__gte=today).distinct())
    if template is None and chosen is None and campaigns:
        template = next((t for t in templates if t.field == campaigns[0].field), None)
    site = selectors.site_of(business)
    site_inspection = None
    if site is not None:
        site_inspection = (selectors.inspections_visible(user).filter(business=site.site, inspected_on=today)
                           .order_by("-pk").first())
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
                    services.photos_add(actor=user, inspection=inspection, uploads=request.FILES.getlist("photos"))
            except DomainError as exc:
                field = exc.field or ""
                if field.startswith("findings["):
                    field = "finding_" + field[len("findings["):].split("]")[0]
                elif field.startswith("answers."):
                    field = "item_" + field.split(".", 1)[1]
                status = form_error(form, exc, {exc.field or "": field})
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
    tenants_done = selectors.inspections_visible(request.user).filter(site_inspection=inspection)
    pending_tenants = selectors.tenants_of(request.user, inspection.business).exclude(
        pk__in=tenants_done.values("business_id"))
    return render(request, "safety/inspection_detail.html", {
        "inspection": inspection, "hazards": inspection.hazards.all(), "tenants_done": tenants_done,
        "photos": inspection.photos.all(),
        "pending_tenants": pending_tenants, "now": timezone.now(),
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
    steps = list(hazard.transitions.select_related("actor"))
    for step in steps:
        step.label = _("检查发现") if step.action == "report" else HazardAction(step.action).label
    photos = SafetyPhoto.objects.filter(inspection_id=hazard.inspection_id).filter(
        Q(hazard__isnull=True) | Q(hazard=hazard)) if hazard.inspection_id else []
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


@require_perm_anywhere(Perm.VIEW_SAFETY)
def risk_rule(request: HttpRequest) -> HttpResponse:
    subdistrict = selectors.subdistricts_of(request.user).first()
    if subdistrict is None:
        raise Http404(_("未找到该对象。"))
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
                _rule, changed = services.risk_rule_update(actor=request.user, subdistrict=subdistrict,
                                                           **form.cleaned_data)
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已保存，重新评定后 %(n)s 家主体的风险等级有变化。") % {"n": changed})
                return redirect("safety:risk_rule")
    recent = selectors.risk_changes(request.user)[:30]
    return render(request, "safety/risk_rule.html", {
        "form": form, "subdistrict": subdistrict, "can_manage": can_manage, "changes": recent,
    }, status=status)


@login_required
def photo(request: HttpRequest, pk: int) -> HttpResponse:
    """One photo, decrypted from the vault for a user who sees its inspection."""
    item = scope.get_scoped(SafetyPhoto.objects.select_related("inspection"), request.user, Perm.VIEW_SAFETY, pk=pk)
    response = HttpResponse(services.photo_bytes(item), content_type=item.content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- checklists ---------------------------------------------------------------------------------


@require_perm_anywhere(Perm.VIEW_SAFETY)
def template_list(request: HttpRequest) -> HttpResponse:
    templates = selectors.templates_usable(request.user)
    subdistrict = selectors.subdistricts_of(request.user).first()
    can_manage = subdistrict is not None and scope.path_allows(request.user, Perm.MANAGE_SAFETY, subdistrict.path)
    return render(request, "safety/template_list.html", {"templates": templates, "can_manage": can_manage})


def _template_form(request: HttpRequest, template: Any = None) -> HttpResponse:
    subdistrict = template.node if template is not None else selectors.subdistricts_of(request.user).first()
    if subdistrict is None or not scope.path_allows(request.user, Perm.MANAGE_SAFETY, subdistrict.path):
        raise PermissionDenied(_("检查表由街道统一维护。"))
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
    return render(request, "safety/template_form.html", {"form": form, "template": template}, status=status)


@require_perm_anywhere(Perm.MANAGE_SAFETY)
def template_new(request: HttpRequest) -> HttpResponse:
    return _template_form(request)


@require_perm_anywhere(Perm.MANAGE_SAFETY)
def template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _template_form(request, selectors.template_get(request.user, pk))
