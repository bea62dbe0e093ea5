"""The hazards a case was escalated from, for the case page's 关联记录 panel
(jiedao.cases.related; registered in SafetyConfig.ready()). Scoped: a user who sees the case
but not the hazard (the hazard's place is outside the user's safety grant) is shown nothing."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from jiedao.cases.related import RelatedLink
from jiedao.safety import selectors


def hazard_links(user: Any, case: Any) -> list[RelatedLink]:
    hazards = selectors.hazards_visible(user).filter(case_id=case.pk).select_related("business").order_by("pk")
    return [RelatedLink(kind=_("安全隐患"), label=f"{h.code} {h.business.name}",
                        url=reverse("safety:hazard", args=[h.pk]),
                        note=f"{h.get_severity_display()} · {h.get_state_display()}") for h in hazards]
