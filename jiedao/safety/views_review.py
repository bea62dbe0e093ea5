"""The 季度风险研判 pages: the review of a place and quarter on screen (phone and desktop) and its
downloads (docx in the official-document layout, xlsx). The review is built by
jiedao.safety.review from the scoped selectors; a place outside the viewer's safety scope, or
not a sub-district, community (村) or grid, answers 404."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from jiedao.cases.api_common import DOCX, XLSX, file_response
from jiedao.cases.cycles.reports import percent
from jiedao.core.permissions import Perm
from jiedao.core.views import require_perm_anywhere
from jiedao.org import selectors as org_selectors
from jiedao.safety import review as reviews


def _target(request: HttpRequest) -> tuple[list[Any], Any, tuple[int, int]]:
    places = reviews.places(request.user)
    raw = request.GET.get("node", "")
    if raw:
        if not raw.isdigit():
            raise Http404
        node = reviews.review_node(request.user, raw)
    elif places:
        node = places[0]
    else:
        raise PermissionDenied(_("季度风险研判按街道、社区（村）或网格进行，您负责的范围内没有。"))
    raw_quarter = request.GET.get("quarter", "")
    quarter = reviews.parse_quarter(raw_quarter) if raw_quarter else reviews.recent_quarters()[0][:2]
    if quarter is None:
        raise Http404
    return places, node, quarter


@require_perm_anywhere(Perm.VIEW_SAFETY)
@require_GET
def review_page(request: HttpRequest) -> HttpResponse:
    places, node, (year, quarter) = _target(request)
    review = reviews.build(request.user, node, year, quarter)
    document = reviews.document(review)
    f = review.figures
    context = {
        "places": org_selectors.place_labels(places), "node": node, "review": review, "document": document,
        "quarters": reviews.recent_quarters(), "figures": f,
        "rates": [(_("排摸覆盖率"), percent(f.coverage_rate)), (_("整改率"), percent(f.rectification_rate)),
                  (_("按期整改率"), percent(f.on_time_rate))],
        "comparison": review.comparison(),
        "overdue": [(h, reviews.overdue_days(h, review.now)) for h in review.overdue[:50]],
        "by_field": [(row, percent(row.rectification_rate), percent(row.on_time_rate)) for row in review.by_field],
        "tenant_rate": percent(review.tenant_summary.rectification_rate),
    }
    return render(request, "safety/review_page.html", context)


@require_perm_anywhere(Perm.VIEW_SAFETY)
@require_GET
def review_download(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in ("docx", "xlsx"):
        raise Http404
    _places, node, (year, quarter) = _target(request)
    review = reviews.build(request.user, node, year, quarter)
    if kind == "docx":
        return file_response(reviews.review_docx(review), f"{review.title}.docx", DOCX)
    return file_response(reviews.review_xlsx(review), f"{review.title}.xlsx", XLSX)
