"""Reads of the org tree, departments and users, always through the scoping function."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from jiedao.core import caching, scope
from jiedao.core.permissions import Perm
from jiedao.core.scope import PATH_SEGMENT, subtree_range
from jiedao.org.models import Department, NodeKind, OrgNode, RoleAssignment, User


def nodes_visible(user: Any, perm: str = Perm.VIEW_ORG) -> QuerySet[OrgNode]:
    return scope.restrict(OrgNode.objects.all(), user, perm)


def node_get(user: Any, pk: int | str, perm: str = Perm.VIEW_ORG) -> OrgNode:
    return scope.get_scoped(OrgNode.objects.select_related("parent"), user, perm, pk=pk)


def _node_row(pk: int) -> Any:
    node = OrgNode.objects.defer("boundary").filter(pk=pk).first()
    return caching.row(node) if node is not None else None


def node_get_cached(user: Any, pk: int, perm: str = Perm.VIEW_ORG) -> OrgNode:
    """node_get for hot paths (intake): the node's row comes from the per-process cache
    (jiedao.core.caching), the scope check is the same (`scope.path_allows`, Http404 outside).
    `boundary` is not cached (it loads on first access) and `parent` is not joined."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404(_("未找到该对象。")) from None
    node = node_cached(pk)
    if node is None or not scope.path_allows(user, perm, node.path):
        raise Http404(_("未找到该对象。"))
    return node


def node_cached(pk: int | None) -> OrgNode | None:
    """A node by id from the per-process cache, NOT scoped: for names of nodes the caller
    already reached through a scoped object (a case's community and grid)."""
    if pk is None:
        return None
    cached = caching.get(("node", pk), lambda: _node_row(pk))
    return caching.instance(OrgNode, cached) if cached is not None else None


def ancestor_ids(path: str) -> dict[str, int]:
    """{kind: node id} of the node at `path` and its ancestors, derived from the path's
    prefixes (one query the first time per process and generation, then cached)."""

    def load() -> dict[str, int]:
        prefixes = [path[:i] for i in range(PATH_SEGMENT, len(path) + 1, PATH_SEGMENT)]
        return dict(OrgNode.objects.filter(path__in=prefixes).order_by("depth").values_list("kind", "id"))

    return dict(caching.get(("ancestors", path), load))


def scope_roots(user: Any, perm: str = Perm.VIEW_ORG) -> QuerySet[OrgNode]:
    """The top nodes of what the user may see: the entry points of their tree browser."""
    paths = scope.granted_paths(user, perm)
    if paths is None:
        return OrgNode.objects.filter(parent__isnull=True)
    return OrgNode.objects.filter(path__in=paths)


def node_children(user: Any, node: OrgNode) -> QuerySet[OrgNode]:
    children = nodes_visible(user).filter(parent=node).order_by("sort_order", "path")
    return children.annotate(child_count=Count("children"))


def node_ancestors(user: Any, node: OrgNode) -> list[OrgNode]:
    """Breadcrumbs: the visible ancestors, root first (out-of-scope ancestors are left out)."""
    prefixes = [node.path[:i] for i in range(PATH_SEGMENT, len(node.path), PATH_SEGMENT)]
    return list(nodes_visible(user).filter(path__in=prefixes).order_by("path"))


def place_labels(places: list[OrgNode]) -> list[tuple[OrgNode, str]]:
    """(node, label) for a place picker, each place named under its nearest listed ancestor:
    "东门社区 › 东门第一网格" (the path's segments are PATH_SEGMENT characters long)."""
    names = {p.path: p.name for p in places}
    out = []
    for place in places:
        parent = next((names[place.path[:cut]] for cut in range(len(place.path) - PATH_SEGMENT, 0, -PATH_SEGMENT)
                       if place.path[:cut] in names), "")
        out.append((place, f"{parent} › {place.name}" if parent else place.name))
    return out


def subtree_counts(node: OrgNode) -> dict[str, int]:
    """How many nodes of each kind lie under `node` (one grouped range query)."""
    low, high = subtree_range(node.path)
    rows = (
        OrgNode.objects.filter(path__range=(low, high), is_active=True)
        .exclude(pk=node.pk)
        .values("kind")
        .annotate(n=Count("id"))
    )
    counts = {row["kind"]: row["n"] for row in rows}
    return {kind: counts.get(kind, 0) for kind in NodeKind.values if counts.get(kind)}


def node_people(node: OrgNode) -> QuerySet[RoleAssignment]:
    """The people responsible for a node: the role assignments bound to it."""
    return node.assignments.select_related("user", "department").filter(user__is_active=True).order_by("role", "id")


def node_search(user: Any, text: str, *, kind: str = "", limit: int = 20) -> QuerySet[OrgNode]:
    qs = nodes_visible(user)
    text = (text or "").strip()
    if text:
        qs = qs.filter(Q(name__icontains=text) | Q(code__startswith=text))
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("path")[:limit]


def departments_visible(user: Any) -> QuerySet[Department]:
    return scope.restrict(Department.objects.select_related("subdistrict"), user, Perm.VIEW_ORG)


def users_visible(user: Any, perm: str = Perm.VIEW_USERS) -> QuerySet[User]:
    return scope.restrict(User.objects.select_related("home_node"), user, perm)


def user_list(
    user: Any, *, text: str = "", node: OrgNode | None = None, role: str = "", active: bool | None = None
) -> QuerySet[User]:
    qs = users_visible(user)
    text = (text or "").strip()
    if text:
        qs = qs.filter(Q(username__icontains=text) | Q(full_name__icontains=text))
    if node is not None:
        qs = qs.filter(home_node__path__range=subtree_range(node.path))
    if role:
        qs = qs.filter(assignments__role=role).distinct()
    if active is not None:
        qs = qs.filter(is_active=active)
    return qs.order_by("username")


def user_get(user: Any, pk: int | str, perm: str = Perm.VIEW_USERS) -> User:
    return scope.get_scoped(User.objects.select_related("home_node"), user, perm, pk=pk)


def user_assignments(user: User) -> QuerySet[RoleAssignment]:
    return user.assignments.select_related("node", "department").order_by("node__path", "role")


def role_rows(user_id: int) -> tuple[scope.RoleRow, ...]:
    """What core.scope reads to apply the policy (registered in OrgConfig.ready()): (role, node
    path, node active, department id) of each of the user's assignments, oldest first."""
    return tuple(RoleAssignment.objects.filter(user_id=user_id).order_by("pk")
                 .values_list("role", "node__path", "node__is_active", "department_id"))


def assignment_get(actor: Any, pk: int | str) -> RoleAssignment:
    return scope.get_scoped(
        RoleAssignment.objects.select_related("user", "node", "department"), actor, Perm.VIEW_USERS, pk=pk
    )


# --- added for the staff web UI -------------------------------------------------------------


def node_pick(user: Any, text: str, *, perm: str = Perm.VIEW_ORG, limit: int = 20) -> list[OrgNode]:
    """Nodes matching `text` (name or code prefix) among those the user holds `perm` on, for a
    form's node picker. Each node gets a `trail` attribute: its visible ancestors' names."""
    qs = scope.restrict(OrgNode.objects.filter(is_active=True), user, perm)
    text = (text or "").strip()
    if text:
        qs = qs.filter(Q(name__icontains=text) | Q(code__startswith=text))
    return with_trails(user, list(qs.order_by("path")[:limit]))


def with_trails(user: Any, nodes: list[OrgNode]) -> list[OrgNode]:
    """Give each node a `trail`: its visible ancestors' names, root first (one query in all)."""
    prefixes = {n.path[:i] for n in nodes for i in range(PATH_SEGMENT, len(n.path), PATH_SEGMENT)}
    names = dict(nodes_visible(user).filter(path__in=prefixes).values_list("path", "name")) if prefixes else {}
    for node in nodes:
        ancestors = [node.path[:i] for i in range(PATH_SEGMENT, len(node.path), PATH_SEGMENT)]
        node.trail = " › ".join(names[p] for p in ancestors if p in names)
    return nodes


def audit_events_visible(
    user: Any,
    *,
    action_prefix: str = "",
    object_type: str = "",
    object_id: str | int = "",
    actor_id: str | int = "",
    about_user: int | None = None,
) -> QuerySet:
    """Audit events the user may read, newest first, optionally filtered.

    Superusers read everything. Anyone else needs Perm.VIEW_AUDIT, and then reads the events
    where, within the subtrees their VIEW_AUDIT grant covers,
      - the actor is a user whose home node lies there, or
      - the object is an org node, a department (by its sub-district) or a user (by home node)
        lying there.
    `about_user` selects the events on that user's account and on their role assignments.

    Events by accounts without a home node (e.g. the superuser) on objects outside those
    subtrees, and events on objects that no longer exist, are left out: a choice that keeps the
    rule one screen long and never shows a leader another sub-district's activity.
    """
    from django.db.models import CharField
    from django.db.models.functions import Cast

    from jiedao.core.models import AuditEvent

    qs = AuditEvent.objects.select_related("actor").order_by("-id")
    paths = scope.granted_paths(user, Perm.VIEW_AUDIT)
    if paths is not None:
        if not paths:
            return qs.none()

        def ids(model_qs: QuerySet) -> QuerySet:
            return scope.restrict(model_qs, user, Perm.VIEW_AUDIT).annotate(
                sid=Cast("pk", output_field=CharField())
            ).values("sid")

        qs = qs.filter(
            Q(actor__in=scope.restrict(User.objects.all(), user, Perm.VIEW_AUDIT).values("pk"))
            | Q(object_type="org.orgnode", object_id__in=ids(OrgNode.objects.all()))
            | Q(object_type="org.department", object_id__in=ids(Department.objects.all()))
            | Q(object_type="org.user", object_id__in=ids(User.objects.all()))
        )
    if action_prefix:
        qs = qs.filter(action__startswith=action_prefix.strip())
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id not in ("", None):
        qs = qs.filter(object_id=str(object_id))
    if actor_id not in ("", None):
        qs = qs.filter(actor_id=actor_id)
    if about_user is not None:
        qs = qs.filter(
            Q(object_type="org.user", object_id=str(about_user))
            | Q(object_type="org.roleassignment", after__user_id=about_user)
            | Q(object_type="org.roleassignment", before__user_id=about_user)
        )
    return qs


# --- for the REST API (jiedao/org/api.py) -------------------------------------------------------


def node_list(
    user: Any, *, parent: OrgNode | None = None, subtree_of: OrgNode | None = None, kind: str = "", text: str = ""
) -> QuerySet[OrgNode]:
    """Visible nodes for list pages: the (large) boundary is not loaded, only flagged."""
    from django.db.models import BooleanField, ExpressionWrapper

    qs = nodes_visible(user)
    if parent is not None:
        qs = qs.filter(parent=parent)
    if subtree_of is not None:
        qs = qs.filter(path__range=subtree_range(subtree_of.path))
    if kind:
        qs = qs.filter(kind=kind)
    text = (text or "").strip()
    if text:
        qs = qs.filter(Q(name__icontains=text) | Q(code__startswith=text))
    has_boundary = ExpressionWrapper(Q(boundary__isnull=False), output_field=BooleanField())
    return qs.defer("boundary").annotate(has_boundary=has_boundary).order_by("path")


def department_get(user: Any, pk: int | str) -> Department:
    return scope.get_scoped(Department.objects.select_related("subdistrict"), user, Perm.VIEW_ORG, pk=pk)


def user_assignments_visible(actor: Any, user: User) -> QuerySet[RoleAssignment]:
    """A user's role assignments, leaving out those on nodes the actor cannot see."""
    return scope.restrict(user_assignments(user), actor, Perm.VIEW_ORG)
