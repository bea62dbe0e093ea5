"""The safety panel of the 驾驶舱 (dashboard): the figures in the seed's own terms — 底数, 排摸
and its coverage, 隐患, 重大隐患, 整改率, 按期整改率, 逾期未整改 — for the dashboard's node and
period, read by `selectors.figures` (docs/figures.md § 安全生产) within the viewer's safety scope.

Registered in jiedao.cases.statistics.panels by SafetyConfig.ready(); the dashboard loads it as a
fragment after the page is shown, so it never holds up the dashboard. Its HTML is cached per node,
period, language and viewer scope, under a generation that moves with every safety write that
can move a figure: every inspection, hazard step (found, started, submitted, re-inspected,
extended, escalated, cancelled) and risk change appends a row, so the highest ids of those three
tables — three primary-key lookups — change the moment a figure can. Edits of the business
register (底数) and deadlines passing (逾期) change no safety row: the cache keeps at most
PANEL_CACHE_SECONDS for them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.template.loader import render_to_string
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from jiedao.cases.cycles.reports import percent
from jiedao.cases.statistics.panels import Panel
from jiedao.core import scope
from jiedao.core.permissions import Perm
from jiedao.safety import review, selectors
from jiedao.safety.models import HazardTransition, Inspection, RiskChange

PANEL_CACHE_SECONDS = 300


def generation() -> str:
    """Where the safety rows stand: the highest id of inspections, hazard steps and risk changes."""
    tables = [connection.ops.quote_name(m._meta.db_table) for m in (Inspection, HazardTransition, RiskChange)]
    sql = "SELECT " + ", ".join(f"(SELECT MAX(id) FROM {t})" for t in tables)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return "-".join(str(v or 0) for v in cursor.fetchone())


def visible(user: Any) -> bool:
    return scope.has_perm_anywhere(user, Perm.VIEW_SAFETY)


def render(request: Any, node: Any, start: date, end: date) -> str:
    user = request.user
    granted = scope.granted_paths(user, Perm.VIEW_SAFETY)
    viewer = "all" if granted is None else ",".join(sorted(granted))
    key = f"jiedao:safety-panel:v1:{node.pk}:{viewer}:{start:%Y%m%d}:{end:%Y%m%d}:{get_language()}:{generation()}"
    html = cache.get(key)
    if html is None:
        f = selectors.figures(user, start, end, node=node)
        html = render_to_string("safety/review_dashboard_panel.html", {
            "figures": f, "node": node, "start": start, "end": end,
            "reviewable": node.kind in review.REVIEW_KINDS and scope.path_allows(user, Perm.VIEW_SAFETY, node.path),
            "rates": [("coverage_rate", _("排摸覆盖率"), percent(f.coverage_rate)),
                      ("rectification_rate", _("整改率"), percent(f.rectification_rate)),
                      ("on_time_rate", _("按期整改率"), percent(f.on_time_rate))],
        })
        cache.set(key, html, PANEL_CACHE_SECONDS)
    return html


PANEL = Panel(key="safety", title=gettext_lazy("安全生产"), visible=visible, render=render, order=10)
