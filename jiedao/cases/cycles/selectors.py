"""Reads of the cycles: weekly digests, deliberations and quarterly reviews, scoped."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Count, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from jiedao.cases.models import Deliberation, QuarterlyReview, ReviewItem, WeeklyDigest
from jiedao.core import scope
from jiedao.core.permissions import Perm
from jiedao.org.models import OrgNode


def digest_list(user: Any, *, node: OrgNode | None = None, week_start: date | None = None) -> QuerySet[WeeklyDigest]:
    qs = scope.restrict(WeeklyDigest.objects.select_related("node"), user, Perm.VIEW_CASES)
    if node is not None:
        qs = qs.filter(node=node)
    if week_start is not None:
        qs = qs.filter(week_start=week_start)
    return qs.order_by("-week_start", "node__path")


def digest_get(user: Any, pk: Any) -> WeeklyDigest:
    return scope.get_scoped(WeeklyDigest.objects.select_related("node"), user, Perm.VIEW_CASES, pk=pk)


def deliberation_list(
    user: Any, *, community: OrgNode | None = None, month: date | None = None
) -> QuerySet[Deliberation]:
    qs = scope.restrict(Deliberation.objects.select_related("community"), user, Perm.VIEW_CASES)
    if community is not None:
        qs = qs.filter(community=community)
    if month is not None:
        qs = qs.filter(month=month)
    return qs.annotate(item_count=Count("items")).order_by("-month", "community__path")


def deliberation_get(user: Any, pk: Any) -> Deliberation:
    return scope.get_scoped(Deliberation.objects.select_related("community"), user, Perm.VIEW_CASES, pk=pk)


def review_list(
    user: Any, *, community: OrgNode | None = None, year: int | None = None, quarter: int | None = None
) -> QuerySet[QuarterlyReview]:
    qs = scope.restrict(QuarterlyReview.objects.select_related("community"), user, Perm.VIEW_CASES)
    if community is not None:
        qs = qs.filter(community=community)
    if year is not None:
        qs = qs.filter(year=year)
    if quarter is not None:
        qs = qs.filter(quarter=quarter)
    return qs.order_by("-year", "-quarter", "community__path")


def review_get(user: Any, pk: Any) -> QuarterlyReview:
    return scope.get_scoped(QuarterlyReview.objects.select_related("community"), user, Perm.VIEW_CASES, pk=pk)


def review_counts(review: QuarterlyReview) -> dict[str, int]:
    verdicts = dict(review.items.order_by().values_list("verdict").annotate(n=Count("id")))
    return {
        "total": sum(verdicts.values()),
        "pending": verdicts.get(ReviewItem.Verdict.PENDING, 0),
        "struck_off": verdicts.get(ReviewItem.Verdict.STRUCK_OFF, 0),
        "carried_over": verdicts.get(ReviewItem.Verdict.CARRIED_OVER, 0),
    }


def review_items(review: QuarterlyReview, *, verdict: str | None = None) -> QuerySet[ReviewItem]:
    qs = review.items.select_related("case__category")
    if verdict is not None:
        qs = qs.filter(verdict=verdict)
    return qs.order_by("case_id")


def review_item_get(review: QuarterlyReview, pk: Any) -> ReviewItem:
    """An item of this review (the review already fetched through the scope); Http404 otherwise."""
    item = review.items.select_related("case", "review__community").filter(pk=pk).first()
    if item is None:
        raise Http404(_("未找到该对象。"))
    return item
