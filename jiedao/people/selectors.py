"""Reads of the registers, always through the scoping function. Values stay masked here."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from jiedao.core import scope, sealed
from jiedao.core.models import AuditEvent, ImportJob
from jiedao.core.permissions import Perm
from jiedao.core.scope import subtree_range
from jiedao.org.models import NodeKind, OrgNode
from jiedao.people.models import Business, Household, Resident, ResidentTag, SpecialGroup


def residents_visible(user: Any) -> QuerySet[Resident]:
    return scope.restrict(Resident.objects.select_related("node", "household"), user, Perm.VIEW_PEOPLE)


def resident_get(user: Any, pk: Any) -> Resident:
    return scope.get_scoped(Resident.objects.select_related("node", "household"), user, Perm.VIEW_PEOPLE, pk=pk)


def resident_list(
    user: Any,
    *,
    text: str = "",
    node: OrgNode | None = None,
    group: str = "",
    is_floating: bool | None = None,
    gender: str = "",
    active: bool | None = True,
) -> QuerySet[Resident]:
    """Filtered residents. `text` matches a fragment of the name or of an address, never an ID
    number or a phone: a search that matched a full number would tell, one try at a time, which of
    the candidates a mask leaves is the resident's (docs/architecture.md, "Sealed identifiers").
    Finding a resident by a full number is resident_lookup: its own permission, audited, throttled."""
    qs = residents_visible(user)
    text = "".join((text or "").split())
    if text:
        qs = qs.filter(
            Q(name__icontains=text) | Q(actual_address__icontains=text) | Q(registered_address__icontains=text)
        )
    if node is not None:
        qs = qs.filter(node__path__range=subtree_range(node.path))
    if group:
        qs = qs.filter(tags__group__code=group).distinct()
    if is_floating is not None:
        qs = qs.filter(is_floating=is_floating)
    if gender:
        qs = qs.filter(gender=gender)
    if active is not None:
        qs = qs.filter(is_active=active)
    return qs.order_by("node__path", "name", "id")


def resident_lookup(user: Any, *, kind: str, value: str) -> list[Resident]:
    """The residents `user` may look up (Perm.LOOKUP_PEOPLE, scoped) whose ID number or phone is
    exactly `value` (normalised), by blind index, never decrypting. Callers go through
    services.resident_lookup (permission, reason, throttle, audit)."""
    column = {"id_number": "id_number_bidx", "phone": "phone_bidx"}[kind]
    qs = scope.restrict(Resident.objects.select_related("node", "household"), user, Perm.LOOKUP_PEOPLE)
    return list(qs.filter(**{f"{column}__in": sealed.lookup_keys(kind, value)}).order_by("node__path", "name", "id")[:20])


def households_visible(user: Any) -> QuerySet[Household]:
    return scope.restrict(Household.objects.select_related("node", "head"), user, Perm.VIEW_PEOPLE)


def household_get(user: Any, pk: Any) -> Household:
    return scope.get_scoped(Household.objects.select_related("node", "head"), user, Perm.VIEW_PEOPLE, pk=pk)


def resident_tags(resident: Resident) -> QuerySet[ResidentTag]:
    return resident.tags.select_related("group").order_by("group__sort_order")


def special_groups() -> QuerySet[SpecialGroup]:
    return SpecialGroup.objects.filter(is_active=True).order_by("sort_order", "id")


def businesses_visible(user: Any) -> QuerySet[Business]:
    return scope.restrict(Business.objects.select_related("node"), user, Perm.VIEW_BUSINESSES)


def business_get(user: Any, pk: Any) -> Business:
    return scope.get_scoped(Business.objects.select_related("node"), user, Perm.VIEW_BUSINESSES, pk=pk)


def business_list(
    user: Any, *, text: str = "", node: OrgNode | None = None, risk_colour: str = "", industry: str = ""
) -> QuerySet[Business]:
    qs = businesses_visible(user)
    text = (text or "").strip()
    if text:
        qs = qs.filter(Q(name__icontains=text) | Q(uscc=text.upper()))
    if node is not None:
        qs = qs.filter(node__path__range=subtree_range(node.path))
    if risk_colour:
        qs = qs.filter(risk_colour=risk_colour)
    if industry:
        qs = qs.filter(industry=industry)
    return qs.order_by("node__path", "name", "id")


# --- reads used by the REST API (jiedao.people.api) ----------------------------------------------


def household_list(user: Any, *, text: str = "", node: OrgNode | None = None) -> QuerySet[Household]:
    """Filtered households: `text` matches part of the household number or the address."""
    qs = households_visible(user)
    text = (text or "").strip()
    if text:
        qs = qs.filter(Q(number__icontains=text) | Q(address__icontains=text))
    if node is not None:
        qs = qs.filter(node__path__range=subtree_range(node.path))
    return qs.order_by("node__path", "number", "id")


def household_members(user: Any, household: Household) -> QuerySet[Resident]:
    """The members of a household that `user` may see."""
    return residents_visible(user).filter(household=household).order_by("name", "id")


def special_group_by_code(code: str) -> SpecialGroup:
    """An active special group by its code, or Http404."""
    group = special_groups().filter(code=code).first()
    if group is None:
        raise Http404(_("未找到该对象。"))
    return group


def resident_tag_get(user: Any, resident: Resident, tag_id: Any) -> ResidentTag:
    """One tag of a resident, through the scope (ResidentTag hangs on the resident's node)."""
    tags = ResidentTag.objects.select_related("group", "resident__node").filter(resident=resident)
    return scope.get_scoped(tags, user, Perm.VIEW_PEOPLE, pk=tag_id)


def resident_history(resident: Resident) -> QuerySet[AuditEvent]:
    """The audit events of a resident, newest first: its own (create, update, import, reveal)
    and those of its special-group tags. Callers fetch the resident through the scope first."""
    own = Q(object_type=Resident._meta.label_lower, object_id=str(resident.pk))
    tags = Q(object_type=ResidentTag._meta.label_lower) & (
        Q(after__resident_id=resident.pk) | Q(before__resident_id=resident.pk)
    )
    return AuditEvent.objects.filter(own | tags).order_by("-id")


def revealable(user: Any, queryset: QuerySet) -> QuerySet:
    """Narrow a register queryset to the rows whose identifiers `user` may see in clear."""
    return scope.restrict(queryset, user, Perm.REVEAL_PII)


def node_full_names(queryset: QuerySet) -> dict[str, str]:
    """{node path: "东门社区/东门第一网格/1幢"} for the nodes the rows of `queryset` hang on.

    Names start below the sub-district, as the importers' node column expects them, so an
    export can be filled in and imported again. Two queries, whatever the number of rows."""
    paths = set(queryset.order_by().values_list("node__path", flat=True).distinct())
    prefixes = {p[:i] for p in paths for i in range(scope.PATH_SEGMENT, len(p) + 1, scope.PATH_SEGMENT)}
    above = {NodeKind.SUBDISTRICT, NodeKind.DISTRICT, NodeKind.CITY}
    names: dict[str, str] = {}
    ordered = sorted(prefixes)
    for start in range(0, len(ordered), 900):  # stay under SQLite's bound-parameter limit
        rows = OrgNode.objects.filter(path__in=ordered[start:start + 900]).values_list("path", "name", "kind")
        names.update((path, name) for path, name, kind in rows if kind not in above)
    return {
        p: "/".join(names[p[:i]] for i in range(scope.PATH_SEGMENT, len(p) + 1, scope.PATH_SEGMENT) if p[:i] in names)
        for p in paths
    }


def import_jobs(user: Any, registers: tuple[str, ...] = ("residents", "businesses")) -> QuerySet[ImportJob]:
    """Import jobs are private to the user who uploaded the file (superusers see all)."""
    qs = ImportJob.objects.filter(register__in=registers).select_related("created_by")
    if not getattr(user, "is_superuser", False):
        qs = qs.filter(created_by=user)
    return qs.order_by("-id")


def import_job_get(user: Any, pk: Any, registers: tuple[str, ...] = ("residents", "businesses")) -> ImportJob:
    job = import_jobs(user, registers).filter(pk=pk).first()
    if job is None:
        raise Http404(_("未找到该对象。"))
    return job


def record_history(obj: Household | Business) -> QuerySet[AuditEvent]:
    """The audit events of one household or business, newest first (callers fetch the object
    through the scope first; see resident_history for residents and their tags)."""
    return AuditEvent.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk)).order_by("-id")
