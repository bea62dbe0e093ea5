"""Reads of the org tree, departments and users, always through the scoping function."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from jiedao.core import scope
from jiedao.core.permissions import Perm
from jiedao.core.scope import PATH_SEGMENT, subtree_range
from jiedao.org.models import Department, NodeKind, OrgNode, RoleAssignment, User


def nodes_visible(user: Any, perm: str = Perm.VIEW_ORG) -> QuerySet[OrgNode]:
    return scope.restrict(OrgNode.objects.all(), user, perm)


def node_get(user: Any, pk: int | str, perm: str = Perm.VIEW_ORG) -> OrgNode:
    return scope.get_scoped(OrgNode.objects.select_related("parent"), user, perm, pk=pk)


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


def assignment_get(actor: Any, pk: int | str) -> RoleAssignment:
    return scope.get_scoped(
        RoleAssignment.objects.select_related("user", "node", "department"), actor, Perm.VIEW_USERS, pk=pk
    )
