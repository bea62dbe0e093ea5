"""The welfare panel of the 驾驶舱 (dashboard): each part's figures in the seeds' terms for the
dashboard's node and period, within the viewer's welfare scope — 防止返贫监测 (监测户数/人数,
本月应走访/已走访, 上月逾期, 新纳入, 风险消除), 救助补贴 (低保人次, 人均补差, amounts paid) and
走访与优抚 (应走访, 已走访, 逾期, 退役军人信息核对, 优待证申请, 诉求办结). Definitions:
docs/figures.md; each part's `selectors.panel_figures` counts them (and its property test
recounts them from raw rows).

Registered in jiedao.cases.statistics.panels by WelfareConfig.ready(); loaded as a fragment after
the page is shown. The parts count from their rows (a whole sub-district's year of visits costs a
few hundred milliseconds on SQLite), so the HTML is cached per node, period, language and viewer
scope under a generation that moves with every write the figures read — the highest ids of the
append-only tables (visits, history rows, checks, new requests and 优待证 applications) and the
latest change of the rows edited in place (payments, grants, households, requests, applications) — and for at most PANEL_CACHE_SECONDS for what no row of
those records (a special group's visit interval edited, a tag ended, a resident moving, the clock
passing a due date).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.template.loader import render_to_string
from django.utils.translation import get_language, gettext_lazy

from jiedao.cases.statistics.panels import Panel
from jiedao.core import scope
from jiedao.core.permissions import Perm
from jiedao.people.models import Household
from jiedao.welfare.benefits import selectors as benefits
from jiedao.welfare.models.benefits import Grant, Payment
from jiedao.welfare.models.monitoring import MonitoredHousehold, MonitoringChange, MonitoringTransition, MonitoringVisit
from jiedao.welfare.models.visits import (
    CardApplication,
    CardTransition,
    RequestTransition,
    ServiceRequest,
    VeteranCheck,
    Visit,
)
from jiedao.welfare.monitoring import selectors as monitoring
from jiedao.welfare.visits import selectors as visits

PANEL_CACHE_SECONDS = 300
# A request or an application is created without a history row (its workflow's first step is the
# first action), so their own tables are watched too: the highest id (a new one) and the latest change.
_APPENDED = (MonitoringTransition, MonitoringVisit, MonitoringChange, Visit, VeteranCheck, RequestTransition,
             CardTransition, ServiceRequest, CardApplication)
_EDITED = (Payment, Grant, MonitoredHousehold, ServiceRequest, CardApplication, Household)  # a household moving


def generation() -> str:
    """Where the welfare rows stand: the highest ids of the append-only tables and the latest
    change of the tables edited in place, in one statement."""
    quote = connection.ops.quote_name
    parts = [f"(SELECT MAX(id) FROM {quote(m._meta.db_table)})" for m in _APPENDED]
    parts += [f"(SELECT MAX(updated_at) FROM {quote(m._meta.db_table)})" for m in _EDITED]
    parts += [f"(SELECT COUNT(*) FROM {quote(m._meta.db_table)})" for m in (Payment, Grant)]  # a deletion
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts))
        return "-".join(str(v or 0) for v in cursor.fetchone()).replace(" ", "T")


def visible(user: Any) -> bool:
    return scope.has_perm_anywhere(user, Perm.VIEW_WELFARE)


def render(request: Any, node: Any, start: date, end: date) -> str:
    user = request.user
    granted = scope.granted_paths(user, Perm.VIEW_WELFARE)
    viewer = "all" if granted is None else ",".join(sorted(granted))
    key = (f"jiedao:welfare-panel:v1:{node.pk}:{viewer}:{start:%Y%m%d}:{end:%Y%m%d}:{get_language()}:"
           f"{generation()}")
    html = cache.get(key)
    if html is None:
        groups = [
            (gettext_lazy("防止返贫监测"), monitoring.panel_figures(user, node, start, end)),
            (gettext_lazy("救助补贴"), benefits.panel_figures(user, node, start, end)),
            (gettext_lazy("走访与优抚"), visits.panel_figures(user, node, start, end)),
        ]
        html = render_to_string("welfare/dashboard_panel.html",
                                {"groups": [(title, rows) for title, rows in groups if rows], "start": start,
                                 "end": end})
        cache.set(key, html, PANEL_CACHE_SECONDS)
    return html


PANEL = Panel(key="welfare", title=gettext_lazy("民政帮扶"), visible=visible, render=render, order=20)
