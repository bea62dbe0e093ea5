"""The demo-data generator: a believable sub-district (or a district, or a whole city).

`seed("subdistrict")` builds 丹西街道 as the 2023 work report describes it (seeds/004): 9
communities and 21 villages, 88 grids and 612 micro-grids, with buildings, departments and an
account for every role. `district` builds a 县 of 20 sub-districts of that size and `city` a 市
of 343 sub-districts across 16 districts (Beijing's count), for benchmarks; there the mix of
communities and villages varies and micro-grids hold fewer buildings.

Everything is deterministic: the same scale and seed give the same names, codes and paths.
The top of the tree is real (丹西街道 in 象山县; 北京市 and its districts, with their division
codes); everything below it, and every person's name, is made up from the word lists below.

The generator writes with `bulk_create`, computing materialized paths itself with the rules of
`jiedao.org.services.node_create` (4-digit segments, depth = segments, `subdistrict` pointing at
the sub-district or at itself); it does not call the services per node, so a city of ~210,000
micro-grids takes about two minutes on SQLite. Each sub-district is written in its own transaction and
recorded by one summary audit event, so the audit chain stays valid.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from jiedao.core import audit, totp
from jiedao.core.permissions import Role
from jiedao.core.scope import PATH_SEGMENT
from jiedao.org import services as org_services
from jiedao.org.models import Department, DepartmentKind, NodeKind, OrgNode, RoleAssignment, User

DEMO_PASSWORD = "jiedao2026"
SEED_ACTOR = "jiedao seed"
DEFAULT_SEED = 2026
BATCH_SIZE = 2000


class DemoError(Exception):
    """The demo cannot be generated into this database (the message says why, in Chinese)."""


# --- sizes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """How much to generate. Per-sub-district figures apply to every sub-district."""

    name: str
    label: str
    root_kind: str
    communities: int  # per sub-district (with mixed_units: communities + villages is kept, the split varies)
    villages: int
    grids: int  # per sub-district
    microgrids: int  # per sub-district
    buildings_per_microgrid: tuple[int, int]
    building_heads: int  # 楼栋长 accounts per sub-district
    microgrid_boundaries: bool
    mixed_units: bool = False  # vary the community/village mix per sub-district (large scales)


SCALES: dict[str, Scale] = {
    # Hidden from --help: a handful of nodes for tests.
    "tiny": Scale("tiny", "测试用最小街道", NodeKind.SUBDISTRICT, 2, 1, 6, 12, (2, 2), 2, True),
    "subdistrict": Scale("subdistrict", "一个街道（丹西街道）", NodeKind.SUBDISTRICT, 9, 21, 88, 612, (3, 8), 6, True),
    "district": Scale("district", "一个县（20 个街道）", NodeKind.DISTRICT, 9, 21, 88, 612, (2, 5), 4, False, True),
    "city": Scale("city", "一个市（16 个区、343 个街道）", NodeKind.CITY, 9, 21, 88, 612, (1, 2), 2, False, True),
}
PUBLIC_SCALES = ("subdistrict", "district", "city")

# 丹西街道, 象山县 (Zhejiang): the single-sub-district demo, modelled on seeds/004.
DANXI = ("丹西街道", "330225002000")
XIANGSHAN = ("象山县", "330225")
DISTRICT_SUBDISTRICTS = 20
# Beijing: 16 districts, 343 sub-districts and townships (DESIGN.md §6).
CITY = ("北京市", "110000")
CITY_DISTRICTS: list[tuple[str, str, int]] = [
    ("东城区", "110101", 17), ("西城区", "110102", 15), ("朝阳区", "110105", 43), ("丰台区", "110106", 26),
    ("石景山区", "110107", 9), ("海淀区", "110108", 29), ("门头沟区", "110109", 13), ("房山区", "110111", 28),
    ("通州区", "110112", 22), ("顺义区", "110113", 25), ("昌平区", "110114", 22), ("大兴区", "110115", 22),
    ("怀柔区", "110116", 16), ("平谷区", "110117", 18), ("密云区", "110118", 20), ("延庆区", "110119", 18),
]

# Map extents (west, south, east, north) in WGS-84 degrees.
DANXI_EXTENT = (121.835, 29.445, 121.905, 29.495)
XIANGSHAN_EXTENT = (121.62, 29.05, 122.08, 29.62)
BEIJING_EXTENT = (115.75, 39.45, 117.35, 40.95)

# --- word lists ------------------------------------------------------------------------------

# Common surnames, weighted towards the coast of Zhejiang (王陈张林周俞史 are frequent in 象山).
SURNAMES = (
    "王王王陈陈陈张张李李林林周周俞史郑胡黄吴徐刘杨赵孙朱何罗金叶邵应鲍蒋沈杜钱欧"
    "韩冯邓曹彭曾肖田董袁潘蔡余程苏魏吕丁任姚卢姜崔钟谭陆汪范石廖贾夏方严"
)
GIVEN_MALE = "伟强军建国明华杰涛斌勇峰磊海波林平辉宁刚鹏飞俊浩宇志文晨凯亮东鑫超龙永正德立成"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞燕萍红玲婷琳洁慧雪梅莉琴云倩颖佳怡晓欣丹蓉薇秀英兰珍"

# Two-character names for communities, estates and roads (some from the 丹西 report: 汇丰 丹桂 蓬莱 文昌).
PLACE_WORDS = (
    "东门", "桃园", "丹峰", "汇丰", "丹桂", "蓬莱", "文昌", "靖南", "西谷", "新华", "建设", "和平", "锦绣", "金山", "银湖", "翠竹",
    "梅园", "兰亭", "荷花", "春晖", "朝阳", "永安", "长乐", "康乐", "育才", "惠民", "幸福", "望海", "滨江", "南苑", "北苑", "青松",
    "紫薇", "天安", "石门", "东湖", "城南", "城北", "瑶琳", "星光", "凤凰", "龙山", "玉泉", "清风", "明月", "书院", "学府", "府前",
    "新桥", "月河", "竹林", "晓塘", "丰收", "振兴", "繁荣", "丹河", "象山", "海港", "渔港", "南门", "西门", "北门", "新城", "文峰",
    "塔山", "白鹤", "紫金", "聚贤", "同心", "向阳", "红旗", "光明", "华山", "江边", "金福", "联惠", "仙龙", "盛丰", "世纪", "安澜",
)
ESTATE_SUFFIXES = ("小区", "花园", "花苑", "家园", "新村", "公寓", "名苑", "嘉园", "雅苑", "公馆", "佳苑", "里")
ROAD_SUFFIXES = ("路", "路", "路", "街", "大道", "巷")

# 丹西's communities: the four of the report's "4社4品牌" (汇丰 丹桂 蓬莱 文昌) and five more.
KNOWN_COMMUNITIES = ("东门", "桃园", "丹峰", "汇丰", "丹桂", "蓬莱", "文昌", "靖南", "西谷")
# Village names: a few from the 丹西 report, the rest built from these parts.
KNOWN_VILLAGES = ("横塘", "小东洋", "南庄", "树下", "方井头", "水溪")
VILLAGE_PREFIXES = "上下前后东西南北大小里外中新老"
VILLAGE_LANDFORMS = ("岙", "塘", "溪", "岭", "湾", "洋", "桥", "浦", "墩", "山", "田", "港", "庄", "井头", "埠", "畈")
VILLAGE_CLAN_SUFFIXES = ("家", "家岙", "家弄", "家塘", "家桥", "村")

SUBDISTRICT_HEADS = "东西南北新老金银龙凤丹青白石桃杏梅柳松竹长永兴丰嘉宁华"
SUBDISTRICT_TAILS = (
    "门", "桥", "湖", "山", "塘", "港", "园", "庄", "城", "坊", "街", "源", "溪", "岭", "湾", "峰", "苑", "亭",
    "台", "林", "河", "口", "坝", "关",
)

# Sub-district departments (科室, 站所, 联合执法队), as in the reports: 141 体系, 1+3+N 联动执法.
DEPARTMENTS: list[tuple[str, str, str]] = [
    ("党政办", DepartmentKind.OFFICE, "党建、文秘、督查考核、机关事务"),
    ("经济发展办", DepartmentKind.OFFICE, "经济运行、招商引资、企业服务、亲清管家"),
    ("社会事务办", DepartmentKind.OFFICE, "民政、社保、卫健、教育文化、防止返贫监测"),
    ("平安办（综治中心）", DepartmentKind.OFFICE, "综治维稳、矛盾纠纷调处、网格管理、141 指挥调度"),
    ("城市管理办", DepartmentKind.OFFICE, "市容环境、城建、物业、垃圾分类"),
    ("综合行政执法队", DepartmentKind.JOINT_TEAM, "1+3+N 联动执法、违章搭建、占道经营"),
    ("应急管理办", DepartmentKind.OFFICE, "安全生产、消防、防汛防台、隐患排查整改"),
    ("农业农村办", DepartmentKind.OFFICE, "乡村振兴、村级集体经济、农房管理"),
    ("自然资源和规划所", DepartmentKind.STATION, "土地、规划、征迁"),
    ("市场监督管理所", DepartmentKind.STATION, "食品药品安全、市场主体、消费投诉"),
    ("退役军人服务站", DepartmentKind.STATION, "退役军人服务、拥军优属"),
]

# Building shapes: (floors range, units range, weight) for urban estates; village houses are low.
URBAN_BUILDINGS = [((5, 7), (2, 4), 5), ((11, 11), (1, 2), 2), ((18, 33), (1, 2), 2), ((3, 3), (1, 1), 1)]
CN_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 35 → 三十五, 105 → 一百零五 (for 1–999)."""
    if n < 10:
        return CN_DIGITS[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else CN_DIGITS[tens]) + "十" + (CN_DIGITS[ones] if ones else "")
    hundreds, rest = divmod(n, 100)
    if not rest:
        return CN_DIGITS[hundreds] + "百"
    if rest < 10:
        return CN_DIGITS[hundreds] + "百零" + CN_DIGITS[rest]
    return CN_DIGITS[hundreds] + "百" + ("一" if rest < 20 else "") + chinese_number(rest)


# --- geometry --------------------------------------------------------------------------------

Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]  # north-west, north-east, south-east, south-west


def _lerp(a: Point, b: Point, t: float) -> Point:
    return a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t


def extent_quad(west: float, south: float, east: float, north: float) -> Quad:
    return (west, north), (east, north), (east, south), (west, south)


def split_quad(quad: Quad, count: int, rng: random.Random, jitter: float = 0.22) -> list[Quad]:
    """Cut a quadrilateral into `count` neighbouring quadrilaterals without gaps or overlaps.

    Rows run north→south and cells west→east within a row (the Beijing grid-numbering order).
    Row and column boundaries are straight segments whose ends are jittered along the parent's
    edges, so the pieces look surveyed rather than ruled, yet neighbours share their edges.
    """
    nw, ne, se, sw = quad
    width = math.dist(nw, ne) * math.cos(math.radians(nw[1]))
    height = math.dist(nw, sw)
    rows = max(1, min(count, round(math.sqrt(count * height / width)) if width else 1))
    per_row = [count // rows + (1 if r < count % rows else 0) for r in range(rows)]

    def cut(parts: int) -> list[float]:
        return [0.0] + [(i + rng.uniform(-jitter, jitter)) / parts for i in range(1, parts)] + [1.0]

    left, right = cut(rows), cut(rows)
    lines = [(_lerp(nw, sw, left[r]), _lerp(ne, se, right[r])) for r in range(rows + 1)]
    cells: list[Quad] = []
    for r, cols in enumerate(per_row):
        (top_w, top_e), (bottom_w, bottom_e) = lines[r], lines[r + 1]
        top, bottom = cut(cols), cut(cols)
        for c in range(cols):
            cells.append((
                _lerp(top_w, top_e, top[c]),
                _lerp(top_w, top_e, top[c + 1]),
                _lerp(bottom_w, bottom_e, bottom[c + 1]),
                _lerp(bottom_w, bottom_e, bottom[c]),
            ))
    return cells


def quad_geojson(quad: Quad) -> dict:
    """A GeoJSON Polygon (exterior ring counter-clockwise, closed) with 6-decimal coordinates."""
    nw, ne, se, sw = quad
    ring = [[round(x, 6), round(y, 6)] for x, y in (sw, se, ne, nw, sw)]
    return {"type": "Polygon", "coordinates": [ring]}


# --- names -----------------------------------------------------------------------------------


class Names:
    """Deterministic Chinese names drawn from the word lists with one random.Random."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def person(self) -> str:
        given = GIVEN_MALE if self.rng.random() < 0.55 else GIVEN_FEMALE
        length = 2 if self.rng.random() < 0.7 else 1
        return self.rng.choice(SURNAMES) + "".join(self.rng.choice(given) for _ in range(length))

    def communities(self, count: int, *, known: tuple[str, ...] = ()) -> list[str]:
        chosen = list(known[:count])
        chosen += self.rng.sample([w for w in PLACE_WORDS if w not in chosen], count - len(chosen))
        return [f"{word}社区" for word in chosen]

    def village(self) -> str:
        roll = self.rng.random()
        if roll < 0.35:
            return self.rng.choice(SURNAMES) + self.rng.choice(VILLAGE_CLAN_SUFFIXES).removesuffix("村")
        if roll < 0.6:
            return self.rng.choice(VILLAGE_PREFIXES) + self.rng.choice(SURNAMES)
        return self.rng.choice(VILLAGE_PREFIXES) + self.rng.choice(VILLAGE_LANDFORMS)

    def villages(self, count: int, *, known: tuple[str, ...] = ()) -> list[str]:
        chosen: list[str] = list(known[:count])
        taken = set(chosen)
        while len(chosen) < count:
            name = self.village()
            if name not in taken:
                taken.add(name)
                chosen.append(name)
        return [f"{name}村" for name in chosen]

    def subdistrict(self, taken: set[str]) -> str:
        while True:
            if self.rng.random() < 0.5:
                word = self.rng.choice(PLACE_WORDS)
            else:
                word = self.rng.choice(SUBDISTRICT_HEADS) + self.rng.choice(SUBDISTRICT_TAILS)
            name = f"{word}街道"
            if name not in taken:
                taken.add(name)
                return name

    def estate(self, taken: set[str]) -> str:
        for _ in range(50):
            name = self.rng.choice(PLACE_WORDS) + self.rng.choice(ESTATE_SUFFIXES)
            if name not in taken:
                taken.add(name)
                return name
        name = f"{self.rng.choice(PLACE_WORDS)}新区{len(taken) + 1}期"
        taken.add(name)
        return name

    def road(self) -> str:
        return self.rng.choice(PLACE_WORDS) + self.rng.choice(ROAD_SUFFIXES)


def split_total(total: int, weights: list[float], rng: random.Random, minimum: int = 1) -> list[int]:
    """Split `total` into len(weights) parts of at least `minimum`, roughly proportional to weights."""
    parts = [minimum] * len(weights)
    remaining = total - minimum * len(weights)
    if remaining < 0:
        raise ValueError("total too small for the number of parts")
    for index in rng.choices(range(len(weights)), weights=weights, k=remaining):
        parts[index] += 1
    return parts


# --- plan of one sub-district ----------------------------------------------------------------


@dataclass
class PlannedUser:
    username: str
    full_name: str
    home: OrgNode
    roles: list[tuple[str, OrgNode, Department | None]]


@dataclass
class SubdistrictPlan:
    """One sub-district's rows, unsaved, in insertion order (parents before children)."""

    node: OrgNode
    levels: list[list[OrgNode]] = field(default_factory=list)  # units, grids, micro-grids, buildings
    departments: list[Department] = field(default_factory=list)
    users: list[PlannedUser] = field(default_factory=list)

    def nodes(self) -> list[OrgNode]:
        return [self.node, *(node for level in self.levels for node in level)]

    def counts(self) -> Counter:
        counts: Counter = Counter({NodeKind.SUBDISTRICT.value: 1})
        for level in self.levels:
            counts.update(node.kind for node in level)
        return counts


def _child(parent: OrgNode, index: int, kind: str, name: str, code: str, **extra) -> OrgNode:
    """An unsaved child node with its materialized path, depth and sub-district computed."""
    path = parent.path + str(index).zfill(PATH_SEGMENT)
    return OrgNode(
        parent=parent,
        kind=kind,
        name=name,
        code=code,
        path=path,
        depth=len(path) // PATH_SEGMENT,
        subdistrict=parent if parent.kind == NodeKind.SUBDISTRICT else parent.subdistrict,
        sort_order=index,
        **extra,
    )


def _root(path: str, kind: str, name: str, code: str, quad: Quad) -> OrgNode:
    index = int(path[-PATH_SEGMENT:])
    return OrgNode(kind=kind, name=name, code=code, path=path, depth=len(path) // PATH_SEGMENT,
                   sort_order=index, boundary=quad_geojson(quad))


def plan_subdistrict(
    scale: Scale, node: OrgNode, quad: Quad, rng: random.Random, *, username_prefix: str = ""
) -> SubdistrictPlan:
    """Plan one sub-district under `node` (already carrying path, code and name)."""
    names = Names(rng)
    plan = SubdistrictPlan(node=node)
    sub_code9 = node.code[:9]
    is_danxi = node.name == DANXI[0]

    # 社区 and 村: communities get codes 001…, villages 201… (the statistical-code convention).
    if scale.mixed_units:
        units_total = scale.communities + scale.villages
        communities = rng.randint(4, units_total)
        villages = units_total - communities
    else:
        communities, villages = scale.communities, scale.villages
    unit_names = names.communities(communities, known=KNOWN_COMMUNITIES if is_danxi else ()) + names.villages(
        villages, known=KNOWN_VILLAGES if is_danxi else ()
    )
    unit_quads = split_quad(quad, len(unit_names), rng)
    units: list[OrgNode] = []
    for i, (name, unit_quad) in enumerate(zip(unit_names, unit_quads, strict=True), start=1):
        is_village = i > communities
        number = (200 + i - communities) if is_village else i
        unit = _child(node, i, NodeKind.VILLAGE if is_village else NodeKind.COMMUNITY, name,
                      f"{sub_code9}{number:03d}", boundary=quad_geojson(unit_quad))
        unit.quad = unit_quad
        units.append(unit)

    # 网格: urban communities are denser, so they get more grids and micro-grids per grid.
    weights = [2.0 if unit.kind == NodeKind.VILLAGE else 4.0 for unit in units]
    grid_counts = split_total(scale.grids, weights, rng)
    grids: list[OrgNode] = []
    for unit, count in zip(units, grid_counts, strict=True):
        short = unit.name.removesuffix("社区").removesuffix("村")
        for g, grid_quad in enumerate(split_quad(unit.quad, count, rng), start=1):
            grid = _child(unit, g, NodeKind.GRID, f"{short}第{chinese_number(g)}网格", f"{unit.code}{g:03d}",
                          boundary=quad_geojson(grid_quad))
            grid.quad, grid.unit = grid_quad, unit
            grids.append(grid)

    micro_weights = [1.0 if grid.unit.kind == NodeKind.VILLAGE else 1.3 for grid in grids]
    micro_counts = split_total(scale.microgrids, micro_weights, rng, minimum=2)
    microgrids: list[OrgNode] = []
    buildings: list[OrgNode] = []
    village_groups: Counter = Counter()  # 村民小组 are numbered through the whole village
    for grid, count in zip(grids, micro_counts, strict=True):
        unit = grid.unit
        village = unit.kind == NodeKind.VILLAGE
        quads = split_quad(grid.quad, count, rng) if scale.microgrid_boundaries else [None] * count
        estates: set[str] = set()
        road = names.road()
        for m, micro_quad in enumerate(quads, start=1):
            if village:
                village_groups[unit.code] += 1
                place = f"{unit.name.removesuffix('村')}{chinese_number(village_groups[unit.code])}组"
            else:
                place = names.estate(estates)
            micro = _child(grid, m, NodeKind.MICROGRID, f"{place}微网格", f"{grid.code}{m:03d}",
                           boundary=quad_geojson(micro_quad) if micro_quad else None)
            microgrids.append(micro)
            low, high = scale.buildings_per_microgrid
            first, gate = rng.randint(1, 20), rng.randint(1, 399)  # first building number, estate's street number
            for b in range(1, rng.randint(low, high) + 1):
                number = first + b - 1
                if village:
                    floors, units_count, name = rng.randint(2, 4), 1, f"{number}号"
                    address = f"{unit.name}{place}{number}号"
                else:
                    (f_lo, f_hi), (u_lo, u_hi), _ = rng.choices(URBAN_BUILDINGS, weights=[w[2] for w in URBAN_BUILDINGS])[0]
                    floors, units_count = rng.randint(f_lo, f_hi), rng.randint(u_lo, u_hi)
                    name = f"{number}幢" if m % 2 else f"{number}号楼"
                    address = f"{road}{gate}号{place}{name}"
                buildings.append(_child(micro, b, NodeKind.BUILDING, name, f"{micro.code}-{b:03d}",
                                        floors=floors, units=units_count, address=address))
    plan.levels = [units, grids, microgrids, buildings]

    plan.departments = [
        Department(subdistrict=node, name=name, kind=kind, duties=duties, sort_order=i)
        for i, (name, kind, duties) in enumerate(DEPARTMENTS, start=1)
    ]
    plan.users = _plan_users(scale, plan, names, rng, username_prefix)
    return plan


def _plan_users(
    scale: Scale, plan: SubdistrictPlan, names: Names, rng: random.Random, prefix: str
) -> list[PlannedUser]:
    """An account for every role: admin, leader, department handlers, community and grid staff."""
    node = plan.node
    units, grids, _, buildings = plan.levels
    users = [
        PlannedUser(f"{prefix}admin", names.person(), node, [(Role.ADMIN, node, None)]),
        PlannedUser(f"{prefix}leader", names.person(), node, [(Role.LEADER, node, None)]),
    ]
    for i, department in enumerate(plan.departments, start=1):
        users.append(PlannedUser(f"{prefix}keshi{i:02d}", names.person(), node,
                                 [(Role.DEPARTMENT_HANDLER, node, department)]))
    staff_number = 0
    for i, unit in enumerate(units, start=1):
        users.append(PlannedUser(f"{prefix}shuji{i:02d}", names.person(), unit,
                                 [(Role.COMMUNITY_SECRETARY, unit, None)]))
        for _ in range(rng.randint(1, 2)):
            staff_number += 1
            users.append(PlannedUser(f"{prefix}shequ{staff_number:02d}", names.person(), unit,
                                     [(Role.COMMUNITY_STAFF, unit, None)]))
        users.append(PlannedUser(f"{prefix}wanggezhang{i:02d}", names.person(), unit,
                                 [(Role.GRID_LEADER, unit, None)]))
    for k, grid in enumerate(grids, start=1):
        users.append(PlannedUser(f"{prefix}wangge{k:02d}", names.person(), grid, [(Role.GRID_WORKER, grid, None)]))
    # 楼栋长: on the first building of evenly spread micro-grids (the first one is in community 1).
    step = max(1, len(buildings) // max(1, scale.building_heads))
    for h, building in enumerate(buildings[::step][: scale.building_heads], start=1):
        users.append(PlannedUser(f"{prefix}louzhang{h:02d}", names.person(), building,
                                 [(Role.BUILDING_HEAD, building, None)]))
    return users


# --- writing ---------------------------------------------------------------------------------


@dataclass
class SeedReport:
    """What `seed` wrote: rows per node kind, departments, accounts, role assignments, time."""

    scale: str
    seed: int
    root: OrgNode | None = None
    nodes: Counter = field(default_factory=Counter)
    departments: int = 0
    users: int = 0
    assignments: int = 0
    seconds: float = 0.0

    @property
    def total_nodes(self) -> int:
        return sum(self.nodes.values())

    def as_dict(self) -> dict:
        return {
            "scale": self.scale, "seed": self.seed, "nodes": {str(k): v for k, v in sorted(self.nodes.items())},
            "departments": self.departments, "users": self.users, "assignments": self.assignments,
        }


def _write_subdistrict(plan: SubdistrictPlan, password_hash: str, report: SeedReport, scale: Scale, seed: int) -> None:
    """Insert one sub-district level by level (parents get their ids before their children are
    built into INSERTs) in one transaction, closed by one summary audit event."""
    node = plan.node
    with transaction.atomic():
        node.save(force_insert=True)
        node.subdistrict = node
        OrgNode.objects.filter(pk=node.pk).update(subdistrict=node)
        for level in plan.levels:
            OrgNode.objects.bulk_create(level, batch_size=BATCH_SIZE)
        Department.objects.bulk_create(plan.departments, batch_size=BATCH_SIZE)
        now = timezone.now()
        users = [
            User(username=p.username, full_name=p.full_name, home_node=p.home, password=password_hash,
                 is_active=True, date_joined=now)
            for p in plan.users
        ]
        User.objects.bulk_create(users, batch_size=BATCH_SIZE)
        assignments = [
            RoleAssignment(user=user, role=role, node=role_node, department=department)
            for user, planned in zip(users, plan.users, strict=True)
            for role, role_node, department in planned.roles
        ]
        RoleAssignment.objects.bulk_create(assignments, batch_size=BATCH_SIZE)
        counts = plan.counts()
        audit.record(
            actor=SEED_ACTOR, action="org.demo.seed_subdistrict", obj=node,
            after={
                "scale": scale.name, "seed": seed, "code": node.code,
                "nodes": {str(k): v for k, v in sorted(counts.items())},
                "departments": len(plan.departments), "users": len(users), "assignments": len(assignments),
            },
            reason="生成演示数据",
        )
    report.nodes.update(counts)
    report.departments += len(plan.departments)
    report.users += len(users)
    report.assignments += len(assignments)


def _write_top(nodes: list[OrgNode], users: list[PlannedUser], password_hash: str, report: SeedReport) -> None:
    """The city/district levels above the sub-districts, and their admin and leader."""
    with transaction.atomic():
        for node in nodes:
            node.save(force_insert=True)
        for planned in users:
            user = User.objects.create(username=planned.username, full_name=planned.full_name,
                                       home_node=planned.home, password=password_hash)
            for role, role_node, department in planned.roles:
                RoleAssignment.objects.create(user=user, role=role, node=role_node, department=department)
            report.users += 1
            report.assignments += len(planned.roles)
        report.nodes.update(node.kind for node in nodes)
        audit.record(
            actor=SEED_ACTOR, action="org.demo.seed_top", obj=nodes[0],
            after={"nodes": dict(Counter(str(node.kind) for node in nodes)), "users": [u.username for u in users]},
            reason="生成演示数据",
        )


@dataclass
class DemoPlan:
    """Everything `seed` writes, unsaved: the levels above the sub-districts, their two accounts,
    and the sub-districts one at a time (a generator, so a city never sits in memory at once)."""

    scale: Scale
    seed: int
    top_nodes: list[OrgNode]
    top_users: list[PlannedUser]
    subdistricts: Iterator[SubdistrictPlan]


def plan_demo(scale: str, seed: int = DEFAULT_SEED) -> DemoPlan:
    """Plan the demo for `scale`: the same scale and seed always give the same plan."""
    spec = SCALES.get(scale)
    if spec is None:
        raise DemoError(
            gettext("未知的规模“%(scale)s”，可选：%(choices)s。") % {"scale": scale, "choices": gettext("、").join(PUBLIC_SCALES)}
        )
    top_rng = random.Random(f"{seed}/top")
    names = Names(top_rng)
    if spec.root_kind == NodeKind.SUBDISTRICT:
        quad = extent_quad(*DANXI_EXTENT)
        node = _root("0001", NodeKind.SUBDISTRICT, DANXI[0], DANXI[1], quad)
        only = plan_subdistrict(spec, node, quad, random.Random(f"{seed}/{node.code}"))
        return DemoPlan(spec, seed, [], [], iter([only]))

    if spec.root_kind == NodeKind.DISTRICT:
        root_quad = extent_quad(*XIANGSHAN_EXTENT)
        root = _root("0001", NodeKind.DISTRICT, XIANGSHAN[0], XIANGSHAN[1], root_quad)
        top = [root]
        groups = [(root, root_quad, DISTRICT_SUBDISTRICTS)]
    else:
        root_quad = extent_quad(*BEIJING_EXTENT)
        root = _root("0001", NodeKind.CITY, CITY[0], CITY[1], root_quad)
        top = [root]
        groups = []
        district_quads = split_quad(root_quad, len(CITY_DISTRICTS), top_rng)
        for i, ((name, code, count), quad) in enumerate(zip(CITY_DISTRICTS, district_quads, strict=True), start=1):
            district = _child(root, i, NodeKind.DISTRICT, name, code, boundary=quad_geojson(quad))
            top.append(district)
            groups.append((district, quad, count))
    users = [
        PlannedUser("admin", names.person(), root, [(Role.ADMIN, root, None)]),
        PlannedUser("leader", names.person(), root, [(Role.LEADER, root, None)]),
    ]
    # Sub-district names and shapes come first, so each sub-district's own plan depends only
    # on the seed and its code.
    taken = {DANXI[0]}
    placed: list[tuple[OrgNode, Quad]] = []
    for parent, quad, count in groups:
        for j, sub_quad in enumerate(split_quad(quad, count, top_rng), start=1):
            name = DANXI[0] if (parent.code, j) == (XIANGSHAN[1], 2) else names.subdistrict(taken)
            node = _child(parent, j, NodeKind.SUBDISTRICT, name, f"{parent.code}{j:03d}000",
                          boundary=quad_geojson(sub_quad))
            placed.append((node, sub_quad))

    def subdistricts() -> Iterator[SubdistrictPlan]:
        for number, (node, sub_quad) in enumerate(placed, start=1):
            rng = random.Random(f"{seed}/{node.code}")
            yield plan_subdistrict(spec, node, sub_quad, rng, username_prefix=f"j{number:03d}.")

    return DemoPlan(spec, seed, top, users, subdistricts())


def _refuse_taken_usernames(users: list[PlannedUser]) -> None:
    taken = list(User.objects.filter(username__in=[u.username for u in users]).values_list("username", flat=True)[:5])
    if taken:
        raise DemoError(gettext("数据库中已有与演示账号同名的用户：%(users)s。") % {"users": gettext("、").join(sorted(taken))})


def seed(
    scale: str = "subdistrict",
    *,
    seed: int = DEFAULT_SEED,
    progress: Callable[[str], None] | None = None,
) -> SeedReport:
    """Generate the demo data for `scale` into the (org-empty) configured database.

    A single sub-district is written all-or-nothing. Larger scales commit each sub-district
    on its own (a city in one transaction would hold a gigabyte of WAL or locks), so an
    interrupted run leaves part of the tree: run `jiedao seed --force` again.
    Raises DemoError if the org tree is not empty or a demo username is already taken.
    """
    if scale not in SCALES:
        raise DemoError(
            gettext("未知的规模“%(scale)s”，可选：%(choices)s。") % {"scale": scale, "choices": gettext("、").join(PUBLIC_SCALES)}
        )
    if OrgNode.objects.exists():
        raise DemoError(gettext("数据库中已有组织节点，演示数据只能生成到空的组织架构中。"))
    plan = plan_demo(scale, seed)
    started = time.monotonic()
    report = SeedReport(scale=scale, seed=seed)
    password_hash = make_password(DEMO_PASSWORD)  # once: argon2 is slow on purpose
    with transaction.atomic() if not plan.top_nodes else nullcontext():
        if plan.top_nodes:
            _refuse_taken_usernames(plan.top_users)
            _write_top(plan.top_nodes, plan.top_users, password_hash, report)
        for number, subdistrict in enumerate(plan.subdistricts, start=1):
            _refuse_taken_usernames(subdistrict.users)
            _write_subdistrict(subdistrict, password_hash, report, plan.scale, seed)
            if progress and (number == 1 or number % 10 == 0):
                progress(f"已生成 {number} 个街道、{report.total_nodes} 个节点 / {number} sub-districts, "
                         f"{report.total_nodes} nodes")
        report.root = OrgNode.objects.get(path="0001")
        _enrol_demo_second_factors()
        report.seconds = time.monotonic() - started
        audit.record(actor=SEED_ACTOR, action="org.demo.seed", obj=report.root, after=report.as_dict(),
                     reason="生成演示数据")
    return report


def _enrol_demo_second_factors() -> None:
    """Administrators sign in with a second factor; the demo's get one each, marked as a demo's, so
    `jiedao twofactor code admin` can stand in for an authenticator app."""
    for user in User.objects.filter(assignments__role=Role.ADMIN).distinct():
        org_services.second_factor_enrol_demo(user=user, secret=totp.new_secret())


# --- what the demo printout shows ------------------------------------------------------------

ROLE_SEES: dict[str, str] = {
    Role.ADMIN: "{node}全部：组织架构、账号与角色、审计日志",
    Role.LEADER: "{node}全部：驾驶舱、统计、联席会议、审计日志",
    Role.DEPARTMENT_HANDLER: "派给“{department}”的事项；全街道组织架构",
    Role.COMMUNITY_SECRETARY: "{node}全部网格与登记簿，可查看证件号明文（需填写事由）",
    Role.COMMUNITY_STAFF: "{node}的登记簿与事项",
    Role.GRID_LEADER: "{node}的全部网格",
    Role.GRID_WORKER: "仅本网格：{node}",
    Role.BUILDING_HEAD: "仅本楼栋",
}
IMPORTANT_ACCOUNTS = ("admin", "leader", "keshi04", "keshi06", "shuji01", "shuji10", "shequ01",
                      "wanggezhang01", "wangge01", "wangge02", "louzhang01")


ACCOUNT_SERIES = (
    ("shuji", "书记", "secretaries"), ("shequ", "社区工作人员", "community staff"),
    ("wanggezhang", "网格长", "grid leaders"), ("wangge", "网格员", "grid workers"),
    ("keshi", "科室办理人员", "department handlers"), ("louzhang", "楼栋长", "building heads"),
)


def account_series() -> list[tuple[str, str, str]]:
    """('shuji01–30', '书记', 'secretaries') for each numbered series of demo accounts present."""
    found = []
    for prefix, chinese, english in ACCOUNT_SERIES:
        count = User.objects.filter(username__regex=rf"^{prefix}[0-9]+$").count()
        if count:
            found.append((f"{prefix}01–{count:02d}", chinese, english))
    return found


@dataclass(frozen=True)
class DemoAccount:
    username: str
    full_name: str
    role: str
    node: str
    sees: str


def demo_accounts(usernames: tuple[str, ...] = IMPORTANT_ACCOUNTS) -> list[DemoAccount]:
    """The accounts worth trying first, with their role and what they see (those that exist)."""
    found = {
        a.user.username: a
        for a in RoleAssignment.objects.select_related("user", "node", "department").filter(user__username__in=usernames)
    }
    accounts = []
    for username in usernames:
        assignment = found.get(username)
        if assignment is None:
            continue
        sees = ROLE_SEES.get(assignment.role, "{node}").format(
            node=assignment.node.name, department=assignment.department.name if assignment.department else ""
        )
        node = assignment.node
        place = (node.address or node.name) if node.kind == NodeKind.BUILDING else node.name
        accounts.append(DemoAccount(username, assignment.user.full_name, assignment.get_role_display(), place, sees))
    return accounts
