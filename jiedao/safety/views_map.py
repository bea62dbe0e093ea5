"""The grid map by colour (三色分布图): the units (社区/村) and grids of one sub-district in the
user's scope, drawn server-side as inline SVG from the org tree's boundaries (jiedao.safety.mapping,
no tiles, no script), each grid filled by the share of its active businesses rated red (or red
and yellow), linked to the business list filtered to that grid and colour. A table below gives
the same figures for keyboard and phone users.

Scope: the sub-district must be one the user works in and the focus node one the user sees
(else 404); only the areas and businesses inside the user's grant are drawn and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from jiedao.core import scope
from jiedao.core.permissions import Perm
from jiedao.core.views import require_perm_anywhere
from jiedao.org.models import NodeKind, OrgNode
from jiedao.safety import mapping, selectors

UNIT_KINDS = (NodeKind.COMMUNITY, NodeKind.VILLAGE)
# What the fill shows: the colours counted, and the class breaks of their share (a share of 0
# is a class of its own). Red is rare, so its breaks are lower.
SHOWS = {"red": ("red",), "risk": ("red", "yellow")}
BREAKS = {"red": (0.10, 0.20, 0.40), "risk": (0.25, 0.50, 0.75)}


def share_class(share: float | None, breaks: tuple[float, ...]) -> int:
    """0 for no business, 1 for a share of 0, then 2…5 by `breaks` (e.g. <10%, <20%, <40%, ≥40%)."""
    if share is None:
        return 0
    if share == 0:
        return 1
    return 2 + sum(share >= b for b in breaks)


@dataclass
class Area:
    node: OrgNode
    red: int
    yellow: int
    green: int
    shown: int
    breaks: tuple[float, ...]
    unit: OrgNode | None = None
    shape: mapping.Shape | None = None

    @property
    def total(self) -> int:
        return self.red + self.yellow + self.green

    @property
    def share(self) -> float | None:
        return self.shown / self.total if self.total else None

    @property
    def share_text(self) -> str:
        return "—" if self.share is None else f"{self.share * 100:.0f}%"

    @property
    def klass(self) -> int:
        return share_class(self.share, self.breaks)


def _legend(show: str) -> list[tuple[int, str]]:
    bounds = [f"{int(b * 100)}%" for b in BREAKS[show]]
    return [(1, "0"), (2, _("低于 %(b)s") % {"b": bounds[0]}),
            (3, f"{bounds[0]}–{bounds[1]}"), (4, f"{bounds[1]}–{bounds[2]}"),
            (5, _("%(b)s 及以上") % {"b": bounds[2]}), (0, _("无在营主体"))]


@require_perm_anywhere(Perm.VIEW_SAFETY)
def risk_map(request: HttpRequest) -> HttpResponse:
    user = request.user
    subdistricts = list(selectors.subdistricts_of(user))
    chosen = request.GET.get("sub", "")
    subdistrict = next((s for s in subdistricts if str(s.pk) == chosen), None) if chosen else \
        (subdistricts[0] if subdistricts else None)
    if subdistrict is None:
        raise Http404(_("未找到该对象。"))
    root, nodes = selectors.map_areas(user, subdistrict, request.GET.get("node") or None, kinds=[*UNIT_KINDS, NodeKind.GRID])
    show = request.GET.get("show") if request.GET.get("show") in SHOWS else "red"
    counts = selectors.colour_counts_by_area(user, root, nodes)
    units = {n.path: n for n in nodes if n.kind in UNIT_KINDS}
    areas: dict[int, Area] = {}
    for node in nodes:
        c = counts[node.pk]
        areas[node.pk] = Area(node, c["red"], c["yellow"], c["green"], sum(c[k] for k in SHOWS[show]), BREAKS[show],
                              unit=units.get(node.path[:-scope.PATH_SEGMENT]))
    grids = [a for a in areas.values() if a.node.kind == NodeKind.GRID]
    unit_areas = [a for a in areas.values() if a.node.kind in UNIT_KINDS]

    geographic = any(a.node.boundary for a in areas.values())
    if geographic:
        drawing = mapping.project({a.node.pk: mapping.rings_of(a.node.boundary) for a in areas.values()})
    else:
        members = [(u.node.pk, [g.node.pk for g in grids if g.unit is u.node]) for u in unit_areas]
        orphans = [g.node.pk for g in grids if g.unit is None]
        if orphans:  # grids whose unit the user does not see (a grid worker): one column of their own
            members.append((0, orphans))
        drawing = mapping.schematic(members)
    for area in areas.values():
        area.shape = drawing.shapes.get(area.node.pk)

    base = reverse("safety:businesses")
    colour = "red" if show == "red" else ""
    for area in areas.values():
        query = {"node": area.node.pk, **({"colour": colour} if colour else {})}
        area.url = f"{base}?{urlencode(query)}"
        area.colour_urls = {k: f"{base}?{urlencode({'node': area.node.pk, 'colour': k})}" for k in ("red", "yellow", "green")}
        area.map_url = f"{reverse('safety:map')}?{urlencode({'sub': subdistrict.pk, 'node': area.node.pk, 'show': show})}"

    return render(request, "safety/map.html", {
        "subdistrict": subdistrict, "subdistricts": subdistricts, "root": root, "show": show,
        "drawing": drawing, "geographic": geographic,
        "drawn_grids": [g for g in grids if g.shape], "drawn_units": [u for u in unit_areas if u.shape],
        "undrawn": [a for a in areas.values() if a.shape is None],
        "unit_rows": [(u, [g for g in grids if g.unit is u.node]) for u in unit_areas],
        "loose_grids": [g for g in grids if g.unit is None],
        # every area once: the units (their grids inside) and the grids whose unit the user does not see
        "legend": _legend(show), "total": _sum(unit_areas + [g for g in grids if g.unit is None]),
        "shows": [("red", _("红色主体占比")), ("risk", _("红色和黄色主体占比"))],
    })


def _sum(areas: list[Any]) -> dict[str, int]:
    return {k: sum(getattr(a, k) for a in areas) for k in ("red", "yellow", "green", "total")}
