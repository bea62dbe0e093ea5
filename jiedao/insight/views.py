"""Pages of the insight app: the pending duplicate groups where staff confirm (merge into a main
case through the workflow) or dismiss, and the hotspots page. Thin: selectors read (scoped by
jiedao.core.scope), services write; a group outside the viewer's scope answers 404. Also the
classifier's evaluation page (scores on the held-back slice,
per-category table, confusion table, override rates of the viewer's scope, versions with
roll-back, "retrain now"), and the residents' public form's suggestion (category only).

Thin: the page reads through jiedao.insight.selectors and writes through jiedao.insight.services;
the retraining itself runs as a background task (jiedao.core.tasks)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from jiedao.cases.models import Case
from jiedao.core import scope, tasks
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.core.views import htmx_aware, paginate, require_perm_anywhere
from jiedao.insight import selectors, services
from jiedao.insight.models import DuplicateGroup
from jiedao.org import selectors as org_selectors


def _require_cases(user: Any) -> None:
    if not scope.has_perm_anywhere(user, Perm.VIEW_CASES):
        raise PermissionDenied(_("您没有查看诉求事件的权限。"))


GROUPS_PER_PAGE = 10  # each group shows its members and a form: a page of them is already long


def _groups_page(request: HttpRequest, *, error: str = "", error_group: int | None = None,
                 status: int = 200) -> HttpResponse:
    user = request.user
    state = request.GET.get("status", DuplicateGroup.Status.PENDING)
    if state not in DuplicateGroup.Status.values:
        state = DuplicateGroup.Status.PENDING
    page = paginate(request, selectors.group_list(user, status=state), per_page=GROUPS_PER_PAGE)
    groups = selectors.groups_for_review(user, list(page.object_list))
    context = {"groups": groups, "page": page, "status": state, "statuses": DuplicateGroup.Status.choices,
               "error": error, "error_group": error_group}
    return render(request, "insight/groups.html", context, status=status)


@login_required
@require_GET
def groups(request: HttpRequest) -> HttpResponse:
    """疑似重复: the likely-duplicate groups in the viewer's scope."""
    _require_cases(request.user)
    return _groups_page(request)


def _member_cases(group: DuplicateGroup, raw: list[str]) -> list[Case]:
    ids = {int(v) for v in raw if v.isdigit()}
    return [m.case for m in group.members.select_related("case") if m.case_id in ids]


@login_required
@require_POST
def group_decide(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm (merge the chosen members into the main case) or dismiss one group."""
    user = request.user
    _require_cases(user)
    group = selectors.group_get(user, pk)
    decision = request.POST.get("decision", "")
    try:
        if decision == "confirm":
            raw_main = request.POST.get("main_case", "")
            main = group.members.filter(case_id=raw_main).select_related("case").first() if raw_main.isdigit() else None
            if main is None:
                raise DomainError(_("请选择主件。"), field="main_case")
            chosen = _member_cases(group, request.POST.getlist("cases"))
            services.duplicate_group_confirm(actor=user, group=group, main_case=main.case, cases=chosen,
                                             reason=request.POST.get("reason", ""))
            messages.success(request, _("已确认合并，其余事项已并入 %(ticket)s。") % {"ticket": main.case.ticket})
        elif decision == "dismiss":
            services.duplicate_group_dismiss(actor=user, group=group, reason=request.POST.get("reason", ""))
            messages.success(request, _("已排除：这些事项今后不会再被作为同一组提出。"))
        else:
            raise DomainError(_("请选择确认合并或排除。"), field="decision")
    except DomainError as exc:
        return _groups_page(request, error=exc.message, error_group=group.pk, status=exc.status_code)
    return redirect("insight:groups")


@login_required
@require_GET
def hotspots(request: HttpRequest) -> HttpResponse:
    """热点: clusters of related requests over a period and an area, ranked."""
    user = request.user
    _require_cases(user)
    raw = request.GET.get("node", "")
    node = None
    if raw:
        if not raw.isdigit():
            raise Http404(_("未找到该对象。"))
        node = org_selectors.node_get(user, raw, Perm.VIEW_CASES)
    period = request.GET.get("period", "month")
    level = request.GET.get("level", "community")
    order = request.GET.get("order", "heat")
    period = period if period in selectors.PERIODS else "month"
    level = level if level in selectors.LEVELS else "community"
    order = order if order in selectors.ORDERS else "heat"
    spots = selectors.hotspots(user, node=node, period=period, level=level, order=order, limit=20)
    context = {"spots": spots, "node": node, "period": period, "level": level, "order": order,
               "periods": [(p, selectors.PERIOD_LABELS[p]) for p in selectors.PERIODS],
               "levels": [(v, selectors.LEVEL_LABELS[v]) for v in selectors.LEVELS],
               "orders": [("heat", _("综合热度")), ("size", _("件数")), ("growth", _("增长")), ("support", _("群众关注"))]}
    return render(request, "insight/hotspots.html", context)


def _page_context(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    names = selectors.current_names()
    active = selectors.active_version()
    versions = list(selectors.version_list()[:50])
    overrides = selectors.override_table(user)
    per_category = selectors.score_rows(active, names) if active else []
    by_name = {row["name"]: row for row in overrides["rows"]}
    for row in per_category:
        found = by_name.get(row["name"])
        row["override_rate"] = found["rate"] if found else None
        row["override_n"] = found["n"] if found else 0
    return {
        "active": active,
        "per_category": per_category,
        "confusion": selectors.confusion_rows(active, names) if active and active.confusion else None,
        "calibration": selectors.calibration_view(active),
        "overrides": overrides,
        "versions": versions,
        "pending": selectors.pending_version(),
        "can_manage": scope.has_perm_anywhere(user, Perm.MANAGE_INSIGHT),
    }


@require_perm_anywhere(Perm.VIEW_INSIGHT)
@require_GET
def evaluation(request: HttpRequest) -> HttpResponse:
    """The active version's scores, overrides (in the viewer's scope) and every version."""
    return render(request, "insight/evaluation.html", _page_context(request))


@require_perm_anywhere(Perm.VIEW_INSIGHT)
@require_GET
def training_status(request: HttpRequest) -> HttpResponse:
    """The "retrain now" panel, polled by htmx while a version is queued or training."""
    context = _page_context(request)
    response = htmx_aware(render(request, "insight/_training.html", context))
    if context["pending"] is None and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"  # finished: reload the page to show the new version
    return response


@require_perm_anywhere(Perm.MANAGE_INSIGHT)
@require_POST
def retrain(request: HttpRequest) -> HttpResponse:
    try:
        version = services.classifier_request(actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("insight:evaluation")
    tasks.submit("jiedao.insight.services.classifier_train_queued", version.pk, request.user.pk)
    messages.success(request, _("已开始训练 v%(n)s，完成后按留出集得分决定是否启用。") % {"n": version.number})
    return redirect("insight:evaluation")


@require_perm_anywhere(Perm.MANAGE_INSIGHT)
@require_POST
def activate(request: HttpRequest, pk: int) -> HttpResponse:
    """Roll back (or forward) to a finished version; audited with the stated reason."""
    version = selectors.version_get(pk)
    try:
        services.classifier_activate(actor=request.user, version=version, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("insight:evaluation")
    messages.success(request, _("已切换到 v%(n)s。") % {"n": version.number})
    return redirect("insight:evaluation")


@require_POST
def public_suggest(request: HttpRequest) -> HttpResponse:
    """The residents' form: the likely category only — no confidence, unit or model internals —
    and only when the classifier is confident. No login; throttled per address. POST (with the
    page's CSRF token): the description can be longer than a URL."""
    from jiedao.cases.views import _throttled, typed_text

    if _throttled(request, "suggest"):
        return htmx_aware(HttpResponse("", status=429))
    found = selectors.suggest(*typed_text(request), k=1)
    category = found.top if found.items and not found.low_confidence else None
    return htmx_aware(render(request, "insight/_public_suggest.html", {"category": category}))
