"""The 信访 panel of the 驾驶舱 (dashboard): 信访总量 (件, 人次), 按期受理率, 按期办结率, 重复信访件
and 销号数 for the dashboard's node and period within the viewer's petitions scope, counted by
`selectors.panel_figures` (docs/figures.md § 信访; tests/petitions recount them from raw rows).

Registered in jiedao.cases.statistics.panels by PetitionsConfig.ready(); loaded as a fragment
after the page is shown. Not cached: a sub-district's year is a few hundred petitions, and the
figures are a handful of grouped counts (about 10 ms on the demo).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.template.loader import render_to_string
from django.utils.translation import gettext_lazy

from jiedao.cases.statistics.panels import Panel
from jiedao.core import scope
from jiedao.core.permissions import Perm
from jiedao.petitions import selectors


def visible(user: Any) -> bool:
    return scope.has_perm_anywhere(user, Perm.VIEW_PETITIONS)


def render(request: Any, node: Any, start: date, end: date) -> str:
    rows = selectors.panel_figures(request.user, node, start, end)
    return render_to_string("petitions/dashboard_panel.html", {"rows": rows, "start": start, "end": end})


PANEL = Panel(key="petitions", title=gettext_lazy("信访"), visible=visible, render=render, order=30)
