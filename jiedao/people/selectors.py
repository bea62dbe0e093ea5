"""Reads of the registers, always through the scoping function. Values stay masked here."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from jiedao.core import scope
from jiedao.core.permissions import Perm
from jiedao.core.scope import subtree_range
from jiedao.org.models import OrgNode
from jiedao.people.models import Business, Household, Resident, ResidentTag, SpecialGroup
from jiedao.people.services import id_number_lookup_keys


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
    """Filtered residents. `text` matches a name fragment, or an exact ID number / phone through
    their blind indexes (so searching never decrypts)."""
    qs = residents_visible(user)
    text = "".join((text or "").split())
    if text:
        condition = Q(name__icontains=text)
        if len(text) == 18:
            condition |= Q(id_number_bidx__in=id_number_lookup_keys(text))
        if len(text) >= 7 and text.replace("-", "").isdigit():
            from jiedao.core import crypto

            ring = crypto.get_keyring()
            condition |= Q(phone_bidx__in=[crypto.blind_index(text, kind="phone", index_key_id=k) for k in ring.index_keys])
        qs = qs.filter(condition)
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
