"""Demo cases for a generated sub-district: a few months of requests that went through the
workflow (with their transitions, deadlines, follow-ups and escalations), and the rollups that
the workflow would have kept (each case's figures, jiedao.cases.statistics.figures).
Deterministic; written in bulk, so it takes seconds."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from jiedao.cases import search
from jiedao.cases.catalogue.selectors import route
from jiedao.cases.catalogue.sla import deadline_for
from jiedao.cases.models import Case, CaseStat, CaseTransition, Category, Source, State, Tier
from jiedao.cases.services import new_ticket
from jiedao.cases.statistics import rollups
from jiedao.cases.statistics.figures import case_figures, key_of
from jiedao.core import audit
from jiedao.org.models import Department, NodeKind, OrgNode

TITLES = {
    "exposed_garbage": ("{place}垃圾堆放多日无人清运", "{place}旁边的垃圾已经堆了好几天，天热发臭，蚊蝇很多，请尽快清运。"),
    "illegal_building": ("{place}有人私自搭建棚子", "{place}一楼住户在公共绿地上搭建彩钢棚，影响通行和采光。"),
    "street_lamp": ("{place}路灯不亮", "{place}附近的路灯已经坏了一个多星期，晚上出行很不安全。"),
    "neighbour_dispute": ("{place}楼上楼下噪音纠纷", "{place}楼上住户深夜经常有噪音，多次沟通无果，希望社区协调。"),
    "property_management": ("{place}物业不作为", "{place}的物业对楼道卫生和门禁损坏长期不处理。"),
    "street_vending": ("{place}门口占道摆摊", "{place}门口每天傍晚有流动摊贩占道经营，影响交通。"),
    "illegal_parking": ("{place}车辆乱停堵塞消防通道", "{place}消防通道经常被私家车占用。"),
    "waterlogging": ("{place}下雨积水严重", "{place}一下雨路面积水很深，雨水口可能堵了。"),
    "fire_hazard": ("{place}电动车楼道充电", "{place}有人把电动车推进楼道充电，飞线很危险。"),
    "elevator": ("{place}电梯经常故障", "{place}电梯这个月已经停了三次，老人上下楼很困难。"),
    "social_security": ("咨询医保报销办理", "家里老人住院，想咨询医保异地报销需要哪些材料。"),
    "elderly_care": ("{place}独居老人需要照料", "{place}有位独居老人行动不便，希望社区定期上门看看。"),
    "pet_nuisance": ("{place}有人遛狗不拴绳", "{place}经常有人遛狗不拴绳，小孩被吓到。"),
    "public_space": ("{place}楼道堆放杂物", "{place}楼道里堆满了纸箱和旧家具，堵塞通道。"),
    "construction_noise": ("{place}工地夜间施工扰民", "{place}附近工地晚上十一点以后还在施工，噪音很大。"),
    "assistance": ("申请困难救助", "家里突发变故，收入很低，想了解如何申请救助。"),
}
WEIGHTS = {"exposed_garbage": 14, "illegal_building": 5, "street_lamp": 8, "neighbour_dispute": 10,
           "property_management": 9, "street_vending": 6, "illegal_parking": 9, "waterlogging": 4, "fire_hazard": 6,
           "elevator": 5, "social_security": 5, "elderly_care": 4, "pet_nuisance": 5, "public_space": 6,
           "construction_noise": 4, "assistance": 3}
# 派遣规则 of the demo (and of the bulk history): the department that handles each 大事 category,
# found by a word of its name (jiedao.org.demo.DEPARTMENTS). Seeded as routing rules on the
# sub-district, so the dispatch form preselects them; the more specific rule on each village
# sends 违法搭建 (farm houses) to 农业农村办. 小事 and 私事 categories have no rule: the community
# (or village) where the case happened handles them.
DEPARTMENT_FOR = {
    "exposed_garbage": "城市管理", "muck": "城市管理", "dirty_road": "城市管理", "dirty_water": "城市管理",
    "street_lamp": "城市管理", "manhole_cover": "城市管理", "water_supply": "城市管理", "tree_damage": "城市管理",
    "road_collapse": "城市管理", "waterlogging": "城市管理",
    "illegal_building": "综合行政执法", "illegal_ads": "综合行政执法", "construction_noise": "综合行政执法",
    "construction_dust": "综合行政执法", "street_vending": "综合行政执法", "open_bbq": "综合行政执法",
    "illegal_parking": "综合行政执法",
    "fire_hazard": "应急管理", "gas_hazard": "应急管理",
    "assistance": "社会事务",
}
VILLAGE_DEPARTMENT_FOR = {"illegal_building": "农业农村"}
# Repeated reports of one problem at one building a few days apart (a neighbour, or the same
# resident chasing), so the demo shows duplicate groups and hotspots.
REPEAT_SHARE = 0.06
REPEATS = (
    ("{title}（再次反映）", "之前已经反映过：{text}到现在还没有处理，请尽快解决。"),
    ("{title}，还是没人管", "几天前就有人反映了，{text}希望尽快处理。"),
    ("又来反映：{title}", "{text}这已经是第二次反映了。"),
)
SOURCES = [(Source.DOOR_VISIT, 45), (Source.PATROL, 20), (Source.HOTLINE, 15), (Source.SELF_REPORT, 12),
           (Source.ENTERPRISE_VISIT, 3), (Source.PETITION, 2), (Source.ASSIGNED, 3)]


class _Sim:
    """One case walked through the workflow in memory."""

    def __init__(self, case: Case) -> None:
        self.case, self.rows, self.seq = case, [], 0

    def step(self, action: str, to_state: str, at: datetime, actor: Any, reason: str = "", **data: Any) -> None:
        self.seq += 1
        self.rows.append(CaseTransition(case=self.case, seq=self.seq, action=action, from_state=self.case.state,
                                        to_state=to_state, actor=actor, actor_repr=actor.username if actor else "居民",
                                        reason=reason, data=data, created_at=at))
        self.case.state, self.case.version = to_state, self.seq


def _departments(subdistrict: OrgNode) -> dict[str, Department]:
    """The sub-district's department for each word of DEPARTMENT_FOR and VILLAGE_DEPARTMENT_FOR
    (the words no active department's name holds are left out)."""
    words = set(DEPARTMENT_FOR.values()) | set(VILLAGE_DEPARTMENT_FOR.values())
    found: dict[str, Department] = {}
    for department in Department.objects.filter(subdistrict=subdistrict, is_active=True).order_by("sort_order", "id"):
        for key in words:
            if key in department.name:
                found.setdefault(key, department)
    return found


def seed_routing_rules(subdistrict: OrgNode) -> int:
    """The demo's 派遣规则 for one sub-district (categories → its departments); existing rules are
    kept. Returns how many were added."""
    from jiedao.cases.models import RoutingRule
    from jiedao.core import caching

    departments = _departments(subdistrict)
    categories = {c.code: c for c in Category.objects.filter(code__in=set(DEPARTMENT_FOR) | set(VILLAGE_DEPARTMENT_FOR))}
    rules = [RoutingRule(category=categories[code], node=subdistrict, department=departments[word])
             for code, word in DEPARTMENT_FOR.items() if code in categories and word in departments]
    villages = OrgNode.objects.filter(subdistrict=subdistrict, kind=NodeKind.VILLAGE, is_active=True)
    rules += [RoutingRule(category=categories[code], node=village, department=departments[word])
              for village in villages for code, word in VILLAGE_DEPARTMENT_FOR.items()
              if code in categories and word in departments]
    before = RoutingRule.objects.filter(node__subdistrict=subdistrict).count()
    RoutingRule.objects.bulk_create(rules, ignore_conflicts=True)
    caching.bump()  # the routes are cached per process
    return RoutingRule.objects.filter(node__subdistrict=subdistrict).count() - before


@transaction.atomic
def seed_cases(subdistrict: OrgNode, *, seed: int, count: int = 3000, days: int = 120) -> dict[str, int]:
    from jiedao.core.permissions import Role
    from jiedao.org.models import RoleAssignment

    rng = random.Random(seed * 13 + subdistrict.pk)
    now = timezone.now()
    categories = {c.code: c for c in Category.objects.filter(code__in=WEIGHTS)}
    codes = [c for c in WEIGHTS if c in categories]
    weights = [WEIGHTS[c] for c in codes]
    seed_routing_rules(subdistrict)
    buildings = list(OrgNode.objects.filter(subdistrict=subdistrict, kind=NodeKind.BUILDING)
                     .select_related("parent", "parent__parent"))
    path_to = {n.path: n for n in OrgNode.objects.filter(subdistrict=subdistrict,
                                                           kind__in=(NodeKind.GRID, NodeKind.COMMUNITY, NodeKind.VILLAGE))}
    workers, secretaries, handlers = {}, {}, {}
    for a in RoleAssignment.objects.filter(node__subdistrict=subdistrict).select_related("user", "node"):
        if a.role == Role.GRID_WORKER:
            workers.setdefault(a.node_id, a.user)
        elif a.role == Role.COMMUNITY_SECRETARY:
            secretaries.setdefault(a.node_id, a.user)
        elif a.role == Role.DEPARTMENT_HANDLER:
            handlers.setdefault(a.department_id, a.user)
    sims: list[_Sim] = []
    while len(sims) < count:
        building = rng.choice(buildings)
        grid = next((path_to[building.path[:i]] for i in range(len(building.path), 0, -4)
                     if building.path[:i] in path_to and path_to[building.path[:i]].kind == NodeKind.GRID), None)
        community = next(path_to[building.path[:i]] for i in range(len(building.path), 0, -4)
                         if building.path[:i] in path_to and path_to[building.path[:i]].kind != NodeKind.GRID)
        code = rng.choices(codes, weights)[0]
        category = categories[code]
        place = f"{community.name}{building.name}"
        title, text = TITLES[code]
        age = rng.random() ** 1.4 * days
        created = now - timedelta(days=age, hours=rng.uniform(0, 8))
        created = created.replace(hour=rng.randint(8, 19))
        if created > now:
            created = now - timedelta(minutes=rng.randint(5, 600))
        worker = workers.get(grid.pk) if grid else None
        secretary = secretaries.get(community.pk)
        source = rng.choices([s for s, _ in SOURCES], [w for _, w in SOURCES])[0]
        case = Case(
            ticket=new_ticket(created), source=source, category=category, tier=category.default_tier,
            state=State.REPORTED, node=grid or community, org_path=building.path, subdistrict=subdistrict,
            community=community, grid=grid, building=building, title=title.format(place=place)[:100],
            description=text.format(place=place), reporter_name="" if source == Source.PATROL else "居民",
            reported_by=worker if source in (Source.DOOR_VISIT, Source.PATROL) else None, level=1,
            created_at=created, updated_at=created,
        )
        sim = _Sim(case)
        sims.append(sim)
        sim.rows.append(CaseTransition(case=case, seq=0, action="report", from_state=State.REPORTED,
                                       to_state=State.REPORTED, actor=case.reported_by,
                                       actor_repr=case.reported_by.username if case.reported_by else "居民",
                                       created_at=created))
        _walk(sim, rng, now, created, secretary, worker, route(category, building), handlers)
        for n in range(rng.randint(1, 3) if rng.random() < REPEAT_SHARE else 0):
            again = created + timedelta(days=rng.uniform(1, 5) * (n + 1))
            if again >= now or len(sims) >= count:
                break
            title_again, text_again = rng.choice(REPEATS)
            repeat = Case(
                ticket=new_ticket(again), source=rng.choice([Source.DOOR_VISIT, Source.HOTLINE, Source.SELF_REPORT]),
                category=category, tier=category.default_tier, state=State.REPORTED, node=case.node,
                org_path=case.org_path, subdistrict=subdistrict, community=community, grid=grid, building=building,
                title=title_again.format(title=case.title)[:100], description=text_again.format(text=case.description),
                reporter_name="居民", level=1, created_at=again, updated_at=again,
            )
            again_sim = _Sim(repeat)
            sims.append(again_sim)
            again_sim.rows.append(CaseTransition(case=repeat, seq=0, action="report", from_state=State.REPORTED,
                                                 to_state=State.REPORTED, actor=None, actor_repr="居民", created_at=again))
            if now - again > timedelta(days=7):  # the last week's repeats still wait for staff to see them
                _walk(again_sim, rng, now, again, secretary, worker, route(category, building), handlers)
    Case.objects.bulk_create([s.case for s in sims], batch_size=500)
    # bulk_create stamps auto_now_add fields with "now": put the simulated times back.
    for s in sims:
        s.case.created_at = s.case.updated_at = s.rows[0].created_at
    Case.objects.bulk_update([s.case for s in sims], ["created_at", "updated_at"], batch_size=500)
    CaseTransition.objects.bulk_create([row for s in sims for row in s.rows], batch_size=1000)
    search.index_cases(s.case for s in sims)  # the full-text index rows
    # The rollups the workflow would have kept: every case's figures, by month and key.
    counters: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for s in sims:
        key = key_of(s.case)
        node_path = (s.case.grid or s.case.community).path
        for month, figures in case_figures(s.case).items():
            row = counters[(month, key.node_id, key.category_id, node_path, key.community_id)]
            for name, value in figures.items():
                row[name] += value
    CaseStat.objects.bulk_create([
        CaseStat(month=month, node_id=node_id, category_id=category_id, org_path=path, community_id=community_id,
                 subdistrict=subdistrict, **values)
        for (month, node_id, category_id, path, community_id), values in counters.items()
    ], batch_size=500)
    rollups.rebuild_coarse()
    states: dict[str, int] = defaultdict(int)
    for s in sims:
        states[s.case.state] += 1
    result = {"cases": len(sims), **{f"state_{k}": v for k, v in states.items()}}
    audit.record(actor="jiedao seed", action="cases.demo.seed", obj=subdistrict, after=result, reason="生成演示数据")
    return result


def demo_step(subdistrict: OrgNode, *, seed: int) -> str:
    """cases' part of `jiedao seed` (registered in CasesConfig.ready(), see core.seeding)."""
    from jiedao.cases.mediation.demo import seed_joint_meetings

    count = seed_cases(subdistrict, seed=seed)["cases"]
    count += seed_hotline_callers(subdistrict, seed=seed)
    return f"事项 / cases: {count} 件；{seed_joint_meetings(subdistrict, seed=seed)}"


# Hotline calls with the caller's number, filed through the one intake (case_create) by the first
# community secretary, so the phones are sealed and blind-indexed as in real use. One caller rings
# three times about the same lamp: typing that number on the hotline form shows the earlier calls.
HOTLINE_CALLS = (
    ("刘女士", 0, "street_lamp", "{place}路灯不亮", "{place}门口路灯坏了，晚上很黑。"),
    ("王先生", 1, "exposed_garbage", "{place}垃圾桶满了没人收", "{place}的垃圾桶已经满出来两天了。"),
    ("刘女士", 0, "street_lamp", "{place}路灯还是不亮（再次来电）", "上周反映过{place}路灯不亮，到现在还没修。"),
    ("赵大爷", 2, "elevator", "{place}电梯停运", "{place}电梯停了，老人下不了楼。"),
    ("", None, "illegal_parking", "{place}消防通道被堵", "{place}消防通道停满了车。"),
    ("刘女士", 0, "street_lamp", "{place}路灯坏了一个月了", "第三次打电话了：{place}路灯一直没人修，请尽快处理。"),
)


def demo_caller_phone(seed: int, caller: int) -> str:
    """The demo number of caller `caller` (deterministic per seed; 刘女士 is caller 0)."""
    return f"139{(seed * 7919 + caller * 104729) % 10**8:08d}"


@transaction.atomic
def seed_hotline_callers(subdistrict: OrgNode, *, seed: int) -> int:
    """A few hotline cases with the callers' phones, one number three times (a repeat caller);
    the last call is anonymous. Returns the number of cases filed."""
    from jiedao.cases.services import case_create
    from jiedao.core.permissions import Role
    from jiedao.org.models import RoleAssignment

    assignment = (RoleAssignment.objects.filter(node__subdistrict=subdistrict, role=Role.COMMUNITY_SECRETARY)
                  .select_related("user", "node").order_by("user__username").first())
    if assignment is None:
        return 0
    community = assignment.node
    grids = list(OrgNode.objects.filter(path__startswith=community.path, kind=NodeKind.GRID).order_by("path")[:3])
    categories = {c.code: c for c in Category.objects.filter(code__in={call[2] for call in HOTLINE_CALLS})}
    for name, caller, code, title, text in HOTLINE_CALLS:
        grid = grids[(caller or 0) % len(grids)] if grids else community
        place = grid.name
        case_create(
            actor=assignment.user, source=Source.HOTLINE, node=grid, title=title.format(place=place),
            description=text.format(place=place), category=categories.get(code), anonymous=caller is None,
            reporter_name=name, reporter_phone="" if caller is None else demo_caller_phone(seed, caller),
            suggest=False,
        )
    return len(HOTLINE_CALLS)


def _walk(sim: _Sim, rng: random.Random, now: datetime, t: datetime, secretary, worker, department, handlers) -> None:
    """One case's life up to `now`, as the workflow's effects would have left its fields."""
    case = sim.case

    def later(lo_hours: float, hi_hours: float) -> datetime | None:
        nonlocal t
        t = t + timedelta(hours=rng.uniform(lo_hours, hi_hours))
        return t if t < now else None

    if later(0.2, 6) is None:
        return
    if rng.random() < 0.03:
        case.closed_at = t
        sim.step("reject", State.REJECTED, t, secretary, "不属于受理范围，已告知反映人")
        return
    case.accepted_at = t
    sim.step("accept", State.ACCEPTED, t, secretary)
    handler = secretary
    if case.tier == Tier.PRIVATE:
        if later(2, 48) is None:
            return
        case.result = case.guidance = "已向居民说明办理渠道和所需材料。"
        case.resolved_at, case.resolved_level = t, 1
        resolver = secretary
        sim.step("resolve", State.RESOLVED, t, secretary, case.result, level=1)
    else:
        if later(0.1, 3) is None:
            return
        public = case.tier == Tier.PUBLIC and department is not None
        if public:
            case.handling_department, case.level = department, 2
        else:
            case.handling_node = case.community
        if rng.random() < 0.04 and public is False:
            case.level, case.difficult = 3, True  # a dispute that needed the joint meeting
        case.dispatched_at = t
        case.deadline_at, case.deadline_estimated = deadline_for(case.category, t, case.urgency,
                                                                 subdistrict_id=case.subdistrict_id)
        sim.step("dispatch", State.DISPATCHED, t, secretary, department=department.name if public else "",
                 deadline=case.deadline_at.isoformat())
        handler = resolver = handlers.get(department.pk) if public else secretary
        if later(0.1, 4) is None:
            return
        case.acknowledged_at = t
        sim.step("acknowledge", State.ACKNOWLEDGED, t, handler)
        limit = (case.deadline_at - case.dispatched_at).total_seconds() / 3600
        late = rng.random() < 0.08
        if later(limit * 0.2, limit * (1.6 if late else 0.9)) is None:
            case.sla_status = "overdue" if case.deadline_at < now else ""
            return
        case.result, case.resolved_at, case.resolved_level = "已现场处置完毕。", t, case.level
        sim.step("resolve", State.RESOLVED, t, handler, case.result, level=case.level)
    if later(1, 30) is None:
        return
    # A resolution that does not stand goes back to the handling unit, or to 已受理 when there is
    # none (a 私事), as services._rework_target does.
    rework = State.IN_PROGRESS if case.handling_department_id or case.handling_node_id else State.ACCEPTED
    if rng.random() < 0.05:
        case.rework_count += 1
        case.resolved_at = None
        sim.step("verify_fail", rework, t, worker or secretary, "现场复核仍未整改到位")
        if later(4, 48) is None:
            return
        case.result, case.resolved_at = "已返工处理", t
        sim.step("resolve", State.RESOLVED, t, resolver, case.result, level=case.level)
        if later(1, 24) is None:
            return
    sim.step("verify_pass", State.VERIFIED, t, worker or secretary)
    if later(2, 72) is None:
        return
    # 回访: contacted in time? solved? how satisfied? A bad answer sends the case back (重办).
    rating = rng.choices(["satisfied", "basic", "unsatisfied"], [88, 9, 3])[0]
    solved = rating != "unsatisfied" and rng.random() < 0.98
    contacted = rng.random() < 0.95
    case.rating, case.rated_at, case.contacted_in_time, case.solved = rating, t, contacted, solved
    if rating == "unsatisfied" or not solved:
        case.reopen_count += 1
        case.resolved_at = None
        sim.step("follow_up", rework, t, None, rating=rating, contacted=contacted, solved=solved)
        return
    sim.step("follow_up", State.VERIFIED, t, None, rating=rating, contacted=contacted, solved=solved)
    if later(2, 96) is None:
        return
    case.closed_at = t
    sim.step("close", State.CLOSED, t, secretary)
