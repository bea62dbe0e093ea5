"""The one scoping function: what a user may see and change.

Every view, API endpoint, export and service narrows its querysets with `restrict` and fetches
single objects with `get_scoped`; an object outside the user's scope is indistinguishable from
a missing one (Http404). Models declare `scope_path_field`, the lookup that reaches the
materialized path of the org node they hang on (e.g. "path", "node__path", "home_node__path").

The policy (roles and what they grant) is core's; the role assignments it reads are org's data.
org hands them over through `register_role_source` in its AppConfig.ready(), so core never
imports org.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import Q
from django.http import Http404
from django.utils.translation import gettext as _

from jiedao.core import caching
from jiedao.core.errors import PermissionError_
from jiedao.core.permissions import ROLE_PERMISSIONS, Perm

PATH_SEGMENT = 4  # digits per tree level
PATH_MAX = 40  # room for 10 levels

M = TypeVar("M", bound=models.Model)


def subtree_range(path: str) -> tuple[str, str]:
    """The closed range of paths under `path` (itself included).

    Paths are digit strings, so every descendant sorts between the path and the path padded
    with nines: a plain B-tree index answers it on SQLite and PostgreSQL under any collation.
    """
    return path, path + "9" * (PATH_MAX - len(path))


def _collapse(paths: set[str]) -> list[str]:
    """Drop paths already covered by an ancestor path in the set."""
    kept: list[str] = []
    for path in sorted(paths, key=len):
        if not any(path.startswith(p) for p in kept):
            kept.append(path)
    return sorted(kept)


RoleRow = tuple[str, str, bool, int | None]  # (role, node path, node active, department id)

# Filled by the app that stores role assignments (org), see register_role_source.
_role_source: dict[str, Callable[..., Any]] = {}


def register_role_source(*, rows: Callable[[int], tuple[RoleRow, ...]],
                         assignments: Callable[[Any], Iterable[Any]]) -> None:
    """Called once by the app that stores role assignments (org, in OrgConfig.ready()).

    `rows(user_id)` gives the RoleRow of each assignment, in a stable order; `assignments(user)`
    the assignment objects for display (role label, node, department loaded)."""
    _role_source.update(rows=rows, assignments=assignments)


def _source(part: str) -> Callable[..., Any]:
    loader = _role_source.get(part)
    if loader is None:
        raise ImproperlyConfigured("no app registered the role assignments (jiedao.org must be installed)")
    return loader


def role_rows(user: Any) -> tuple[RoleRow, ...]:
    """(role, node path, node active, department id) of each of the user's role assignments.

    Cached for the request on the user object and per process (jiedao.core.caching): the
    services that assign or revoke roles or change nodes bump the cache generation."""
    cache = user.__dict__.setdefault("_jiedao_scope_cache", {})
    rows = cache.get("_rows")
    if rows is None:
        load = _source("rows")
        rows = cache["_rows"] = caching.get(("roles", user.pk), lambda: load(user.pk))
    return rows


def user_assignments(user: Any) -> Iterable[Any]:
    """The user's role assignments as objects, for showing them (the /me answer, the top bar)."""
    return _source("assignments")(user)


def granted_paths(user: Any, perm: str) -> list[str] | None:
    """Org paths under which `user` holds `perm`; None means everywhere (superuser)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    if user.is_superuser:
        return None
    cache = user.__dict__.setdefault("_jiedao_scope_cache", {})
    if perm not in cache:
        cache[perm] = _collapse({path for role, path, active, _ in role_rows(user)
                                 if active and perm in ROLE_PERMISSIONS.get(role, ())})
    return cache[perm]


def forget(user: Any) -> None:
    """Drop the per-user cache after the user's role assignments change."""
    user.__dict__.pop("_jiedao_scope_cache", None)


def scope_q(user: Any, perm: str, path_field: str) -> Q | None:
    """A filter for rows whose org path falls under the user's grant; None = no filter."""
    paths = granted_paths(user, perm)
    if paths is None:
        return None
    if not paths:
        return Q(pk__in=[])
    condition = Q()
    for path in paths:
        condition |= Q(**{f"{path_field}__range": subtree_range(path)})
    return condition


def restrict(queryset: models.QuerySet[M], user: Any, perm: str = Perm.VIEW_ORG) -> models.QuerySet[M]:
    """THE scoping function: narrow `queryset` to what `user` may access with `perm`."""
    path_field = getattr(queryset.model, "scope_path_field", None)
    if path_field is None:
        raise TypeError(f"{queryset.model.__name__} declares no scope_path_field")
    condition = scope_q(user, perm, path_field)
    if condition is None:
        return queryset
    # A model may add objects assigned to the user wherever they are (e.g. cases dispatched to a
    # handler's department); it is still this function that applies the rule.
    extra = getattr(queryset.model, "scope_extra_q", None)
    assigned = extra(user, perm) if extra is not None else None
    if assigned is not None:
        condition = condition | assigned if condition else assigned
    if not condition:
        return queryset.none()
    return queryset.filter(condition)


def get_scoped(queryset: models.QuerySet[M], user: Any, perm: str = Perm.VIEW_ORG, **lookup: Any) -> M:
    """One object in scope, or Http404 exactly as if it did not exist."""
    try:
        return restrict(queryset, user, perm).get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404(_("未找到该对象。")) from None


def path_allows(user: Any, perm: str, path: str | None) -> bool:
    """Whether a grant of `perm` covers the org path (for checks on objects already loaded)."""
    paths = granted_paths(user, perm)
    if paths is None:
        return True
    return path is not None and any(path.startswith(p) for p in paths)


def require(user: Any, perm: str, path: str | None, *, view_perm: str = Perm.VIEW_ORG) -> None:
    """Raise 404 if the user cannot even see the place, 403 if they see it but may not act."""
    if not path_allows(user, view_perm, path):
        raise Http404(_("未找到该对象。"))
    if not path_allows(user, perm, path):
        raise PermissionError_()


def has_perm_anywhere(user: Any, perm: str) -> bool:
    paths = granted_paths(user, perm)
    return paths is None or bool(paths)
