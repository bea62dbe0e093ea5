"""Catalogue administration pages: categories, routing rules, holidays, 办件规则 (CasePolicy)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from jiedao.cases import forms as case_forms
from jiedao.cases.catalogue import selectors, services
from jiedao.cases.models import Category
from jiedao.core.errors import DomainError
from jiedao.core.models import WorkdayOverride
from jiedao.core.permissions import Perm
from jiedao.core.views import form_error, require_perm_anywhere
from jiedao.org.site_views import object_history

# --- catalogue administration ---------------------------------------------------------------------


@require_perm_anywhere(Perm.MANAGE_CATALOGUE)
def catalogue(request: HttpRequest) -> HttpResponse:
    return render(request, "cases/catalogue.html", {"categories": selectors.catalogue_rows(),
                                                   "unknown_years": selectors.calendar_unknown_years()})


def _category(pk: int) -> Category:
    category = Category.objects.select_related("parent").filter(pk=pk).first()
    if category is None:
        raise Http404(_("未找到该类别。"))
    return category


def _category_page(request: HttpRequest, category: Category, *, form: Any = None, rule_form: Any = None,
                   status: int = 200) -> HttpResponse:
    context = {
        "category": category,
        "form": form or case_forms.CategoryForm.for_category(category),
        "rules": selectors.routing_rules(request.user, category),
        "rule_form": rule_form or case_forms.RoutingRuleForm(user=request.user),
        **object_history(request.user, "cases.category", category.pk),
    }
    return render(request, "cases/category.html", context, status=status)


@require_perm_anywhere(Perm.MANAGE_CATALOGUE)
def category_edit(request: HttpRequest, pk: int) -> HttpResponse:
    category = _category(pk)
    if request.method != "POST":
        return _category_page(request, category)
    form = case_forms.CategoryForm.for_category(category, request.POST)
    if not form.is_valid():
        return _category_page(request, category, form=form, status=400)
    try:
        services.category_update(actor=request.user, category=category, **form.cleaned_data)
    except DomainError as exc:
        return _category_page(request, category, form=form, status=form_error(form, exc))
    messages.success(request, _("已保存“%(name)s”。") % {"name": form.cleaned_data["name"]})
    return redirect("cases:category", pk=category.pk)


@require_perm_anywhere(Perm.MANAGE_CATALOGUE)
@require_POST
def rule_set(request: HttpRequest, pk: int) -> HttpResponse:
    category = _category(pk)
    form = case_forms.RoutingRuleForm(request.POST, user=request.user)
    if not form.is_valid():
        return _category_page(request, category, rule_form=form, status=400)
    try:
        services.routing_rule_set(actor=request.user, category=category, node=form.cleaned_data["rule_node"],
                                  department=form.cleaned_data["department"])
    except DomainError as exc:
        status = form_error(form, exc, aliases={"node": "rule_node"})
        return _category_page(request, category, rule_form=form, status=status)
    messages.success(request, _("已保存派遣规则。"))
    return redirect(reverse("cases:category", args=[category.pk]) + "#rules")


@require_perm_anywhere(Perm.MANAGE_CATALOGUE)
@require_POST
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = selectors.routing_rule_get(request.user, pk)
    services.routing_rule_delete(actor=request.user, rule=rule)
    messages.success(request, _("已删除派遣规则。"))
    return redirect(reverse("cases:category", args=[rule.category_id]) + "#rules")


def _holidays_page(request: HttpRequest, *, form: Any = None, declare_error: str = "",
                   status: int = 200) -> HttpResponse:
    rows = list(selectors.holidays())
    years: dict[int, list[WorkdayOverride]] = {}
    for row in rows:
        years.setdefault(row.date.year, []).append(row)
    calendar = selectors.calendar_years()
    context = {
        "form": form or case_forms.HolidayForm(),
        "years": sorted(years.items(), reverse=True),
        "calendar": calendar,
        "unknown_years": [y for y in calendar if not y.known],
        "declare_error": declare_error,
        "today": timezone.localdate(),
    }
    return render(request, "cases/holidays.html", context, status=status)


@require_perm_anywhere(Perm.MANAGE_CATALOGUE)
def holidays(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _holidays_page(request)
    form = case_forms.HolidayForm(request.POST)
    if not form.is_valid():
        return _holidays_page(request, form=form, status=400)
    data = form.cleaned_data
    try:
        services.holiday_set(actor=request.user, day=data["date"], is_workday=data["is_workday"], name=data["name"])
    except DomainError as exc:
        return _holidays_page(request, form=form, status=form_error(form, exc, aliases={"day": "date"}))
    messages.success(request, _("已保存 %(day)s：%(kind)s。") % {
        "day": data["date"].isoformat(), "kind": _("调休上班") if data["is_workday"] else _("放假")})
    return redirect("cases:holidays")


@require_perm_anywhere(Perm.MANAGE_CATALOGUE)
@require_POST
def holiday_delete(request: HttpRequest, pk: int) -> HttpResponse:
    override = WorkdayOverride.objects.filter(pk=pk).first()
    if override is None:
        raise Http404(_("未找到该日期。"))
    services.holiday_delete(actor=request.user, override=override)
    messages.success(request, _("已删除 %(day)s 的调整。") % {"day": override.date.isoformat()})
    return redirect("cases:holidays")


@require_perm_anywhere(Perm.MANAGE_CATALOGUE)
@require_POST
def holiday_year_declare(request: HttpRequest) -> HttpResponse:
    try:
        result = services.workday_year_declare(actor=request.user, year=request.POST.get("year"))
    except DomainError as exc:
        return _holidays_page(request, declare_error=exc.message, status=exc.status_code)
    messages.success(request, _("已确认 %(year)s 年节假日录入完整，重算了 %(n)s 件办理中事项的期限。") % {
        "year": result["year"], "n": result["recomputed"]})
    return redirect("cases:holidays")


# --- 办件规则 (CasePolicy) ---------------------------------------------------------------------------


@require_perm_anywhere(Perm.MANAGE_CATALOGUE)
def policies(request: HttpRequest) -> HttpResponse:
    rows = selectors.policy_rows(request.user)
    if len(rows) == 1:
        only = rows[0].subdistrict
        return redirect("cases:policy", pk=only.pk) if only else redirect("cases:policy_default")
    return render(request, "cases/policies.html", {"rows": rows})


def _policy_page(request: HttpRequest, subdistrict: Any, data: Any = None) -> HttpResponse:
    row = selectors.policy_row(subdistrict)
    form = case_forms.CasePolicyForm.for_policy(row.policy, data)
    status = 200
    if data is not None:
        if form.is_valid():
            try:
                services.case_policy_update(actor=request.user, subdistrict=subdistrict, **form.cleaned_data)
            except DomainError as exc:
                status = form_error(form, exc)
            else:
                messages.success(request, _("已保存办件规则。"))
                return redirect("cases:policy", pk=subdistrict.pk) if subdistrict else redirect("cases:policy_default")
        else:
            status = 400
    context = {"row": row, "form": form, "many": len(selectors.policy_rows(request.user)) > 1,
               **(object_history(request.user, "cases.casepolicy", row.policy.pk) if row.own else {})}
    return render(request, "cases/policy.html", context, status=status)


@require_perm_anywhere(Perm.MANAGE_CATALOGUE)
def policy_edit(request: HttpRequest, pk: int) -> HttpResponse:
    subdistrict = selectors.policy_subdistrict_get(request.user, pk)
    return _policy_page(request, subdistrict, request.POST if request.method == "POST" else None)


@require_perm_anywhere(Perm.MANAGE_CATALOGUE)
def policy_default(request: HttpRequest) -> HttpResponse:
    if not request.user.is_superuser:
        raise PermissionDenied(_("只有超级管理员可以修改默认办件规则。"))
    return _policy_page(request, None, request.POST if request.method == "POST" else None)

