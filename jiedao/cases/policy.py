"""办件规则 (CasePolicy) as the rest of cases reads it: the policy of a sub-district, falling back
to the default row (no sub-district), falling back to the model's defaults. Cached per process
(jiedao.core.caching); the service that edits a policy bumps the cache generation."""

from __future__ import annotations

from jiedao.cases.models import CasePolicy
from jiedao.core import caching


def _load(subdistrict_id: int | None) -> tuple:
    found = CasePolicy.objects.filter(subdistrict_id=subdistrict_id).first() if subdistrict_id else None
    if found is None:
        found = CasePolicy.objects.filter(subdistrict__isnull=True).order_by("id").first()
    return caching.row(found if found is not None else CasePolicy(subdistrict_id=None))


def policy_for(subdistrict_id: int | None) -> CasePolicy:
    """The policy in force for a sub-district (None: the default, used for wider scopes)."""
    return caching.instance(CasePolicy, caching.get(("case-policy", subdistrict_id), lambda: _load(subdistrict_id)))
