"""Reads of the cycles: weekly digests, deliberations and quarterly reviews, scoped."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from jiedao.cases.models import Case, Deliberation, DeliberationItem, QuarterlyReview, ReviewItem, WeeklyDigest
from jiedao.core import scope
from jiedao.core.permissions import Perm, Role
from jiedao.core.scope import subtree_range
from jiedao.org.models import NodeKind, OrgNode, User

COMMUNITY_KINDS = (NodeKind.COMMUNITY, NodeKind.VILLAGE)
DIGEST_KINDS = (NodeKind.GRID, NodeKind.COMMUNITY, NodeKind.VILLAGE)
# Who may be made responsible for a 月议 decision: the community's staff and grid workers.
OWNER_ROLES = (Role.COMMUNITY_SECRETARY, Role.COMMUNITY_STAFF, Role.GRID_LEADER, Role.GRID_WORKER)
PLACES_LIMIT = 500


# --- where the user holds the cycle ---------------------------------------------------------------


def cycle_places(user: Any, kinds: tuple[str, ...]) -> QuerySet[OrgNode]:
    """The active places of these kinds inside the user's case scope (a secretary: the community
    and its grids; a grid worker: the grid; a leader: every community and grid of the sub-district)."""
    return (scope.restrict(OrgNode.objects.filter(kind__in=kinds, is_active=True), user, Perm.VIEW_CASES)
            .order_by("path")[:PLACES_LIMIT])


def place_get(user: Any, pk: Any, kinds: tuple[str, ...]) -> OrgNode:
    """A place of these kinds in the user's case scope; Http404 otherwise."""
    return scope.get_scoped(OrgNode.objects.filter(kind__in=kinds), user, Perm.VIEW_CASES, pk=pk)


def subdistricts(user: Any) -> QuerySet[OrgNode]:
    """The sub-districts in the user's case scope (leaders, administrators)."""
    return cycle_places(user, (NodeKind.SUBDISTRICT,))


def report_subdistricts(user: Any) -> list[OrgNode]:
    """The sub-districts whose 季报告 the user may read: those in the user's case scope, and —
    the report being circulated (通报) to its communities — the sub-district of each community
    (村) the user holds the cycle for (secretaries, staff, grid leaders of a community). The
    sub-district report carries figures per community and no case of any community."""
    own = {node.pk: node for node in subdistricts(user)}
    holding = {pk for pk in cycle_places(user, COMMUNITY_KINDS).values_list("subdistrict_id", flat=True) if pk}
    for node in OrgNode.objects.filter(pk__in=holding - set(own), kind=NodeKind.SUBDISTRICT, is_active=True):
        own[node.pk] = node
    return sorted(own.values(), key=lambda n: n.path)


def owner_candidates(community: OrgNode) -> QuerySet[User]:
    """Active accounts holding a staff or grid role on the community or anywhere inside it."""
    return (User.objects.filter(is_active=True, assignments__role__in=OWNER_ROLES,
                                assignments__node__path__range=subtree_range(community.path),
                                assignments__node__is_active=True)
            .distinct().order_by("full_name", "username"))


def owner_choices(community: OrgNode) -> list[tuple[int, str, list[str]]]:
    """(user id, "姓名（角色 · 地点）", the paths of those roles) for the owner pickers of a
    community's 月议; an item offers the candidates whose roles cover its case."""
    rows: dict[int, list[str]] = {}
    paths: dict[int, list[str]] = {}
    names: dict[int, str] = {}
    for user_id, full_name, username, role, node_name, path in (
        User.objects.filter(pk__in=owner_candidates(community).values("pk"))
        .filter(assignments__role__in=OWNER_ROLES, assignments__node__path__range=subtree_range(community.path))
        .order_by("full_name", "username", "assignments__node__path")
        .values_list("pk", "full_name", "username", "assignments__role", "assignments__node__name",
                     "assignments__node__path")
    ):
        names[user_id] = full_name or username
        rows.setdefault(user_id, []).append(f"{Role(role).label} · {node_name}")
        paths.setdefault(user_id, []).append(path)
    return [(pk, f"{names[pk]}（{'；'.join(rows[pk])}）", paths[pk]) for pk in names]


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


# --- 月议 decisions: on the case page and in the owner's task list ---------------------------------


def case_decisions(case: Case) -> QuerySet[DeliberationItem]:
    """The 月议 decisions taken on a case (the caller already fetched the case in scope)."""
    return (DeliberationItem.objects.filter(case=case, meeting__status=Deliberation.Status.HELD)
            .exclude(decision="").select_related("meeting__community", "owner_user")
            .order_by("-meeting__month", "id"))


def decisions_owned(user: Any, *, open_only: bool = False) -> QuerySet[DeliberationItem]:
    """The decisions of held meetings the user is responsible for, soonest deadline first."""
    if not getattr(user, "is_authenticated", False):
        return DeliberationItem.objects.none()
    qs = (DeliberationItem.objects.filter(owner_user=user, meeting__status=Deliberation.Status.HELD)
          .exclude(decision="").select_related("case", "meeting__community"))
    if open_only:
        qs = qs.filter(completed_at__isnull=True)
    return qs.order_by(F("completed_at").desc(nulls_first=True), F("due_date").asc(nulls_last=True), "id")


# The navigation's "我的月议事项" link: whether the user owns a decision of a held meeting, kept in
# Django's cache. Holding a meeting forgets its owners' answers (deliberation_hold); the time
# limit is the backstop for processes that do not share the cache (no Redis).
DECISIONS_LINK_SECONDS = 60


def _decisions_link_key(user_id: Any) -> str:
    return f"jiedao:nav-decisions:v2:{user_id}"


def owns_decisions(user: Any) -> bool:
    """Whether `user` owns a decision of a held meeting (the navigation's link to their list)."""
    from django.core.cache import cache

    if not getattr(user, "is_authenticated", False):
        return False
    key = _decisions_link_key(user.pk)
    owns = cache.get(key)
    if owns is None:
        owns = decisions_owned(user).exists()
        cache.set(key, owns, DECISIONS_LINK_SECONDS)
    return owns


def forget_decision_owners(user_ids: Any) -> None:
    """Drop the cached answers of owns_decisions for these users (after a meeting is held)."""
    from django.core.cache import cache

    cache.delete_many([_decisions_link_key(pk) for pk in user_ids])


def deliberation_item_get(user: Any, pk: Any) -> DeliberationItem:
    """An agenda item its owner or someone who sees the community's meetings may act on."""
    qs = DeliberationItem.objects.select_related("meeting__community", "case")
    mine = Q(owner_user_id=getattr(user, "pk", None))
    visible = Q(meeting__in=scope.restrict(Deliberation.objects.all(), user, Perm.VIEW_CASES).values("pk"))
    item = qs.filter(mine | visible, pk=pk).first() if str(pk).isdigit() else None
    if item is None:
        raise Http404(_("未找到该对象。"))
    return item


def agenda(meeting: Deliberation) -> QuerySet[DeliberationItem]:
    return meeting.items.select_related("case__category", "case__grid", "owner_user").order_by("sort_order", "id")


def decisions_widget(user: Any, limit: int = 8) -> dict[str, Any] | None:
    """The home page's "我的月议事项": the user's open decisions, overdue ones marked, or None."""
    from django.utils import timezone

    from jiedao.cases.selectors import cases_visible

    rows = list(decisions_owned(user, open_only=True)[: limit + 1])
    if not rows:
        return None
    today = timezone.localdate()
    visible = set(cases_visible(user).filter(pk__in=[i.case_id for i in rows]).values_list("pk", flat=True))
    for item in rows:
        item.case_visible = item.case_id in visible
        item.overdue = bool(item.due_date and item.due_date < today)
    return {"type": "decisions", "items": rows[:limit], "more": len(rows) > limit,
            "overdue": sum(1 for i in rows[:limit] if i.overdue)}
