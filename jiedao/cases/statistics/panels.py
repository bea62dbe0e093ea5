"""Panels a higher app adds to the 驾驶舱 (dashboard), owned by cases.

cases never imports the apps above it; an app that has figures for the dashboard (safety: 底数,
排摸, 隐患, 重大隐患, 整改率, 按期整改率) registers a `Panel` here in its `AppConfig.ready()`. The
dashboard only writes a placeholder for each panel the viewer may see (`visible`, a cheap check
of the viewer's grants); the panel's body comes in a fragment of its own once the page is shown
(statistics.views.dashboard_panel_fragment, like 本月热点), so a panel never holds up the
dashboard's figures. The panel caches its own body (it knows what invalidates it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Panel:
    """key: in the fragment's URL; title: the heading (a lazy string); visible(user): whether the
    viewer gets the panel at all; render(request, node, start, end): the body's HTML for the
    dashboard's node and period (local dates, both included) — the node is in the viewer's case
    scope, the panel narrows to its own scope itself."""

    key: str
    title: Any
    visible: Callable[[Any], bool]
    render: Callable[[Any, Any, date, date], str]
    order: int = 100


_PANELS: dict[str, Panel] = {}


def register(panel: Panel) -> Panel:
    _PANELS[panel.key] = panel
    return panel


def get(key: str) -> Panel | None:
    return _PANELS.get(key)


def visible_to(user: Any) -> list[Panel]:
    return sorted((p for p in _PANELS.values() if p.visible(user)), key=lambda p: (p.order, p.key))
