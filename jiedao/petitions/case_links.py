"""The petitions a case was filed from, for the case page's 关联记录 panel
(jiedao.cases.related; registered in PetitionsConfig.ready()). Scoped: a user who sees the case
but not the petition (no petitions grant at its place) is shown nothing."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _

from jiedao.cases.related import RelatedLink
from jiedao.petitions import selectors


def petition_links(user: Any, case: Any) -> list[RelatedLink]:
    petitions = selectors.petitions_visible(user).filter(case_id=case.pk).order_by("pk")
    return [RelatedLink(kind=_("信访件"), label=f"{p.code} {p.title}", url=reverse("petitions:petition", args=[p.pk]),
                        note=p.get_state_display()) for p in petitions]
