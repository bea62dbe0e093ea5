"""Pages of the insight app: the classifier's evaluation page (scores on the held-back slice,
per-category table, confusion table, override rates of the viewer's scope, versions with
roll-back, "retrain now"), and the residents' public form's suggestion (category only).

Thin: the page reads through jiedao.insight.selectors and writes through jiedao.insight.services;
the retraining itself runs as a background task (jiedao.core.tasks)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from jiedao.core import scope, tasks
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.core.views import htmx_aware, require_perm_anywhere
from jiedao.insight import selectors, services


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


@require_GET
def public_suggest(request: HttpRequest) -> HttpResponse:
    """The residents' form: the likely category only — no confidence, unit or model internals —
    and only when the classifier is confident. No login; throttled per address."""
    from jiedao.cases.views import _throttled

    if _throttled(request, "suggest"):
        return htmx_aware(HttpResponse("", status=429))
    found = selectors.suggest(request.GET.get("title", "")[:100], request.GET.get("description", "")[:1000], k=1)
    category = found.top if found.items and not found.low_confidence else None
    return htmx_aware(render(request, "insight/_public_suggest.html", {"category": category}))
