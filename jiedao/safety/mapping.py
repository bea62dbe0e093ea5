"""Drawing the org tree's areas as inline SVG on the server, with no map tiles and no script.

The org tree keeps each node's boundary as GeoJSON (Polygon or MultiPolygon, WGS-84 longitude /
latitude, jiedao.org). `project` maps the rings of the areas to draw into one SVG viewBox by an
equirectangular projection around the areas' mean latitude (east-west distances shrunk by
cos(latitude), north up): at the size of a sub-district the distortion is far below what a
screen shows. Areas without a boundary are not guessed: when none of them has one, `schematic`
lays the units (社区/村) out as columns and their grids as stacked cells — a tile map, drawn as
such and labelled on the page as a schematic, never as geography.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Ring = list[tuple[float, float]]
WIDTH = 600.0  # viewBox width; the height follows the areas' aspect ratio
PAD = 8.0


def rings_of(boundary: dict | None) -> list[Ring]:
    """The rings (exterior and holes) of a GeoJSON Polygon / MultiPolygon; [] for anything else.

    The org service validated the boundary when it was saved; this is still defensive, since a
    bad row must not break the page: malformed parts are skipped."""
    if not isinstance(boundary, dict):
        return []
    kind, coords = boundary.get("type"), boundary.get("coordinates")
    polygons = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
    rings: list[Ring] = []
    for polygon in polygons or []:
        for ring in polygon or []:
            try:
                points = [(float(p[0]), float(p[1])) for p in ring]
            except (TypeError, ValueError, IndexError):
                continue
            if len(points) >= 3 and all(math.isfinite(x) and math.isfinite(y) for x, y in points):
                rings.append(points)
    return rings


@dataclass
class Shape:
    """One area on the drawing: its SVG path and where its label goes."""

    key: int
    d: str
    cx: float
    cy: float

    @property
    def x(self) -> str:  # for the template: never localized ("12,5" would break the SVG)
        return f"{self.cx:.1f}"

    @property
    def y(self) -> str:
        return f"{self.cy:.1f}"


@dataclass
class Drawing:
    width: float
    height: float
    shapes: dict[int, Shape] = field(default_factory=dict)

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width:.0f} {self.height:.0f}"


def _path(rings: Iterable[Ring]) -> str:
    return " ".join("M" + " L".join(f"{x:.1f} {y:.1f}" for x, y in ring) + " Z" for ring in rings)


def _centroid(ring: Ring) -> tuple[float, float]:
    """The area centroid of a ring (shoelace); the vertex mean for a degenerate one."""
    area = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        area += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(area) < 1e-12:
        return sum(x for x, _ in ring) / len(ring), sum(y for _, y in ring) / len(ring)
    return cx / (3 * area), cy / (3 * area)


def _ring_area(ring: Ring) -> float:
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True))) / 2


def project(areas: dict[int, list[Ring]], width: float = WIDTH) -> Drawing:
    """Project the rings of each area (key → rings in longitude/latitude) into one viewBox
    `width` wide, keeping the aspect ratio; areas without rings are left out."""
    points = [p for rings in areas.values() for ring in rings for p in ring]
    if not points:
        return Drawing(width, width * 0.6)
    west, east = min(x for x, _ in points), max(x for x, _ in points)
    south, north = min(y for _, y in points), max(y for _, y in points)
    k = math.cos(math.radians((south + north) / 2))
    span_x, span_y = max((east - west) * k, 1e-9), max(north - south, 1e-9)
    scale = (width - 2 * PAD) / span_x
    height = min(max(span_y * scale + 2 * PAD, width * 0.3), width * 2.5)
    scale = min(scale, (height - 2 * PAD) / span_y)
    off_x = (width - span_x * scale) / 2
    off_y = (height - span_y * scale) / 2
    drawing = Drawing(width, height)
    for key, rings in areas.items():
        if not rings:
            continue
        projected = [[(off_x + (x - west) * k * scale, off_y + (north - y) * scale) for x, y in ring] for ring in rings]
        cx, cy = _centroid(max(projected, key=_ring_area))
        drawing.shapes[key] = Shape(key, _path(projected), cx, cy)
    return drawing


def schematic(units: Sequence[tuple[int, Sequence[int]]], width: float = WIDTH) -> Drawing:
    """A tile map for a tree without boundaries: each unit (key, its grids' keys) a column as wide
    as its number of grids, wrapped into rows, its grids stacked as equal cells. Units get a shape
    (their column) as well as grids; the sizes carry no geography."""
    if not units:
        return Drawing(width, width * 0.6)
    weights = [max(1, len(grids)) for _, grids in units]
    per_row = max(1, math.ceil(math.sqrt(sum(weights) / 2)))  # roughly twice as wide as tall
    rows: list[list[int]] = [[]]
    load = 0
    for index, weight in enumerate(weights):
        if rows[-1] and load + weight > per_row:
            rows.append([])
            load = 0
        rows[-1].append(index)
        load += weight
    row_h = 160.0
    height = len(rows) * row_h + 2 * PAD
    drawing = Drawing(width, height)
    gap = 3.0
    for r, members in enumerate(rows):
        total = sum(weights[i] for i in members)
        x = PAD
        y0 = PAD + r * row_h
        for i in members:
            key, grids = units[i]
            w = (width - 2 * PAD) * weights[i] / total
            box = [(x, y0), (x + w, y0), (x + w, y0 + row_h), (x, y0 + row_h)]
            drawing.shapes[key] = Shape(key, _path([box]), x + w / 2, y0 + 14)
            cell_h = (row_h - 22 - gap) / max(1, len(grids))
            for g, grid in enumerate(grids):
                gy = y0 + 22 + g * cell_h
                cell = [(x + gap, gy), (x + w - gap, gy), (x + w - gap, gy + cell_h - gap), (x + gap, gy + cell_h - gap)]
                drawing.shapes[grid] = Shape(grid, _path([cell]), x + w / 2, gy + cell_h / 2)
            x += w
    return drawing
