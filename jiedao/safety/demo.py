"""Demo safety data for the demo sub-district: a year of campaigns, inspections and hazards.

Checklists (消防, 燃气, 电气焊, 涉海涉渔, 安全生产主体责任), parks and factories with their tenants
(园中园 / 厂中厂), five campaigns over the past year (the last one under way, about half covered),
routine inspections between them, and the hazards they found with believable rectification
histories (most closed on time, some late, some failed re-inspection, a few still open and
overdue, two escalated into cases). Written in bulk, deterministic per seed; the 三色 colours are
then recomputed by the rule, each change logged with its reason.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from jiedao.core import audit
from jiedao.core.permissions import Role
from jiedao.org.models import OrgNode, RoleAssignment, User
from jiedao.people.models import Business
from jiedao.safety import rollups, services
from jiedao.safety.models import (
    Campaign,
    CampaignTarget,
    ChecklistItem,
    ChecklistTemplate,
    Hazard,
    HazardState,
    HazardTransition,
    Inspection,
    Tenancy,
)

TEMPLATES = {
    "fire": ("消防安全检查表", [
        ("灭火器按要求配置且在有效期内", "《中华人民共和国消防法》第十六条", "ordinary", 3),
        ("疏散通道、安全出口畅通，未锁闭、堵塞", "《中华人民共和国消防法》第二十八条", "major", 5),
        ("消防设施、器材完好有效", "《中华人民共和国消防法》第十六条", "ordinary", 5),
        ("电动自行车未在室内、楼道停放充电", "《高层民用建筑消防安全管理规定》第三十七条", "ordinary", 2),
        ("生产、储存、经营场所未与住人场所设置在同一建筑内（三合一）", "《重大火灾隐患判定方法》GB 35181", "major", 10),
    ]),
    "gas": ("燃气安全检查表", [
        ("安装可燃气体报警器并有效", "《城镇燃气管理条例》第二十八条", "ordinary", 5),
        ("燃气软管为金属波纹管，连接牢固", "《城镇燃气管理条例》第二十八条", "ordinary", 3),
        ("瓶装液化气未在地下、半地下空间使用", "《城镇燃气设计规范》GB 50028", "major", 1),
        ("钢瓶在检验有效期内，存放不超量", "《城镇燃气管理条例》第二十八条", "ordinary", 3),
    ]),
    "welding": ("电气焊作业检查表", [
        ("电焊、气焊作业人员持证上岗", "《中华人民共和国安全生产法》第三十条", "major", 1),
        ("动火作业经审批并落实监护", "《中华人民共和国消防法》第二十一条", "ordinary", 3),
        ("作业现场清除可燃物、配备灭火器材", "《中华人民共和国消防法》第二十一条", "ordinary", 2),
    ]),
    "marine": ("涉海涉渔（水产加工）检查表", [
        ("涉氨制冷系统设置氨气浓度报警和紧急切断", "《工贸企业重大事故隐患判定标准》第十二条", "major", 10),
        ("冷库门内设有逃生装置", "《冷库设计标准》GB 50072", "ordinary", 5),
        ("有限空间作业审批、检测、监护", "《工贸企业有限空间作业安全规定》", "ordinary", 5),
    ]),
    "other": ("安全生产主体责任检查表", [
        ("建立安全生产责任制和管理制度", "《中华人民共和国安全生产法》第四条", "ordinary", 10),
        ("从业人员经安全生产教育培训", "《中华人民共和国安全生产法》第二十八条", "ordinary", 10),
        ("开展隐患自查并建立台账", "《中华人民共和国安全生产法》第四十一条", "ordinary", 10),
        ("电气线路规范敷设，无私拉乱接", "《中华人民共和国消防法》第二十七条", "ordinary", 3),
    ]),
}
INDUSTRY_FIELD = {"水产加工": "marine", "餐饮": "gas", "住宿": "fire", "汽修": "welding", "建材": "welding",
                  "物流": "fire"}
EXTRA_FINDINGS = ("配电箱未加锁、无警示标识", "员工宿舍私拉电线", "仓库堆放物资距灯具过近", "应急照明损坏",
                  "安全出口指示标志缺失", "叉车司机无证驾驶", "燃气管道锈蚀")
PARK_NAMES = ("工业园", "创业园", "物流园", "厂区", "产业园")
FAIL = {"ordinary": 0.13, "major": 0.015}


def _at(day: date, hour: int, rng: random.Random) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, rng.randrange(60))))


@transaction.atomic
def seed_safety(subdistrict: OrgNode, *, seed: int) -> dict[str, int]:
    rng = random.Random(seed * 31 + subdistrict.pk)
    today = timezone.localdate()
    now = timezone.now()
    businesses = list(Business.objects.filter(subdistrict=subdistrict, is_active=True).select_related("node")
                      .order_by("pk"))
    if not businesses:
        return {"inspections": 0, "hazards": 0}
    templates = {}
    for field, (name, items) in TEMPLATES.items():
        template = ChecklistTemplate.objects.create(node=subdistrict, field=field, name=name)
        ChecklistItem.objects.bulk_create([
            ChecklistItem(template=template, seq=n, text=text, legal_basis=basis, severity=sev, deadline_days=days)
            for n, (text, basis, sev, days) in enumerate(items, start=1)])
        templates[field] = (template, list(template.items.all()))

    # 园中园 / 厂中厂: a few businesses per grid become sites with tenants of the same grid.
    inspectors = services.grid_inspectors(subdistrict.pk)
    grid_paths = sorted(inspectors, key=len, reverse=True)
    by_grid: dict[str, list[Business]] = {}
    for b in businesses:
        by_grid.setdefault(services.grid_path_of(b.node.path, grid_paths) or "", []).append(b)
    tenancies, sites = [], []
    for _grid, members in sorted(by_grid.items()):
        if len(members) < 8 or rng.random() < 0.5:
            continue
        site, *rest = rng.sample(members, min(len(members), rng.randint(4, 7)))
        sites.append(site)
        site.name = site.name if any(p in site.name for p in PARK_NAMES) else site.name + rng.choice(PARK_NAMES)
        Business.objects.filter(pk=site.pk).update(name=site.name)
        kind = rng.choice(["park", "factory"])
        tenancies += [Tenancy(site=site, tenant=t, kind=kind) for t in rest]
    Tenancy.objects.bulk_create(tenancies)
    tenant_ids = {t.tenant_id for t in tenancies}
    site_ids = {s.pk for s in sites}

    leader = (RoleAssignment.objects.filter(node=subdistrict, role=Role.LEADER).select_related("user")
              .order_by("pk").first())
    plans = [
        ("春节前消防安全大排查", "sweep", "fire", -330, -290, lambda b: True, 0.99),
        ("餐饮住宿燃气安全专项整治", "special", "gas", -240, -205, lambda b: b.industry in ("餐饮", "住宿"), 0.97),
        ("安全生产百日大整治", "hundred_days", "other", -180, -81, lambda b: True, 0.98),
        ("园中园、厂中厂专项整治", "special", "fire", -60, -31, lambda b: b.pk in site_ids | tenant_ids, 1.0),
        ("冬季消防安全大排查", "sweep", "fire", -14, 16, lambda b: True, 0.55),
    ]
    visits: list[tuple[Business, date, Campaign | None, str]] = []
    for title, kind, field, start, end, pick, share in plans:
        starts, ends = today + timedelta(days=start), today + timedelta(days=end)
        campaign = Campaign.objects.create(node=subdistrict, subdistrict=subdistrict, title=title, kind=kind, field=field,
                                           starts_on=starts, ends_on=ends, created_by=leader.user if leader else None,
                                           target_rule={} if title != "园中园、厂中厂专项整治" else {"parks": True},
                                           notes="按“二线三色五查”工作机制，逐家排摸，发现隐患即时交办、限期整改、复查销号。")
        if leader:
            campaign.owners.set([leader.user])
        targets = [b for b in businesses if pick(b)]
        CampaignTarget.objects.bulk_create([
            CampaignTarget(campaign=campaign, business=b,
                           inspector_id=inspectors.get(services.grid_path_of(b.node.path, grid_paths) or ""))
            for b in targets])
        last = min(ends, today)
        span = max(0, (last - starts).days)
        for b in targets:
            if rng.random() < share:
                visits.append((b, starts + timedelta(days=rng.randint(0, span)), campaign, field))
    for _ in range(len(businesses) * 2 // 3):  # routine inspections between campaigns
        b = rng.choice(businesses)
        visits.append((b, today - timedelta(days=rng.randint(0, 364)), None, INDUSTRY_FIELD.get(b.industry, "other")))
    visits.sort(key=lambda v: (v[1], v[0].pk))

    inspection_rows, hazard_specs = [], []
    for b, day, campaign, field in visits:
        template, items = templates[field] if field in templates else templates["other"]
        inspector_id = inspectors.get(services.grid_path_of(b.node.path, grid_paths) or "")
        answers, failed = [], []
        for item in items:
            answer = "fail" if rng.random() < FAIL[item.severity] else "ok"
            answers.append({"item": item.pk, "seq": item.seq, "text": item.text, "answer": answer})
            if answer == "fail":
                failed.append((item, services.failed_text(item.text), item.legal_basis, item.severity,
                               item.deadline_days))
        if rng.random() < 0.12:
            failed.append((None, rng.choice(EXTRA_FINDINGS), "", "ordinary", rng.choice((3, 5, 7))))
        inspection_rows.append(Inspection(
            business=b, node=b.node, subdistrict=subdistrict, campaign=campaign, template=template,
            inspector_id=inspector_id, inspected_on=day, answers=answers, contact_name=b.legal_rep or "负责人",
            contact_confirmed=rng.random() < 0.93, hazard_count=len(failed),
            notes="" if failed else "现场检查未发现隐患。"))
        hazard_specs.append((b, day, campaign, field, inspector_id, failed))
    Inspection.objects.bulk_create(inspection_rows, batch_size=1000)

    hazards, histories = [], []
    for inspection, (b, day, campaign, field, inspector_id, failed) in zip(inspection_rows, hazard_specs, strict=True):
        for item, text, basis, severity, days in failed:
            found = _at(day, rng.randint(9, 16), rng)
            deadline = services.deadline_from(found, days)
            h = Hazard(code=services.new_code(found), business=b, node=b.node, subdistrict=subdistrict,
                       inspection=inspection, campaign=campaign, item=item, field=field, description=text,
                       legal_basis=basis, severity=severity, inspector_id=inspector_id,
                       responsible_person=b.legal_rep or "负责人", found_at=found, deadline_days=days,
                       deadline_at=deadline)
            steps = _life(h, now, rng)
            hazards.append(h)
            histories.append(steps)
    Hazard.objects.bulk_create(hazards, batch_size=1000)
    users = dict(User.objects.filter(pk__in={h.inspector_id for h in hazards if h.inspector_id})
                 .values_list("pk", "username"))
    rows = []
    for h, steps in zip(hazards, histories, strict=True):
        for seq, (action, source, target, at, reason, data) in enumerate(steps):
            rows.append(HazardTransition(hazard=h, seq=seq, action=action, from_state=source, to_state=target,
                                         actor_id=h.inspector_id, actor_repr=users.get(h.inspector_id, ""),
                                         reason=reason, data=data, created_at=at))
    HazardTransition.objects.bulk_create(rows, batch_size=2000)
    escalated = _escalate_some(hazards, leader.user if leader else None, rng)
    audit.record(actor=None, action="safety.demo.seed", object_type="safety.demo", object_id=subdistrict.pk,
                 object_repr=subdistrict.name,
                 after={"campaigns": len(plans), "inspections": len(inspection_rows), "hazards": len(hazards),
                        "tenancies": len(tenancies), "escalated": escalated})
    recoloured = services.risk_recompute(actor=None, businesses=businesses, cause="演示数据初始评定", now=now)
    rollups.rebuild()  # the rows above were written in bulk, past the services that keep the rollups
    return {"inspections": len(inspection_rows), "hazards": len(hazards), "tenancies": len(tenancies),
            "campaigns": len(plans), "recoloured": recoloured}


def _life(h: Hazard, now: datetime, rng: random.Random) -> list[tuple[str, str, str, datetime, str, dict]]:
    """The hazard's history up to now; sets its state, dates and counters to match."""
    S = HazardState
    steps = [("report", S.OPEN, S.OPEN, h.found_at, "", {"severity": h.severity, "deadline": h.deadline_at.isoformat()})]
    span = h.deadline_at - h.found_at
    state, version, at = S.OPEN, 0, h.found_at

    def step(action: str, target: str, when: datetime, reason: str = "", data: dict | None = None) -> bool:
        nonlocal state, version, at
        if when >= now:
            return False
        steps.append((action, state, target, when, reason, data or {}))
        state, version, at = target, version + 1, when
        return True

    if rng.random() < 0.01:
        step("cancel", S.CANCELLED, h.found_at + timedelta(hours=5), "误报，现场复核不属于隐患")
    else:
        lateness = rng.choice((0.2, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.95, 1.2, 1.8)) if rng.random() < 0.97 else 30
        if step("start", S.RECTIFYING, h.found_at + span * 0.1, "", {}):
            h.measures = "按“五定”要求落实整改：" + h.description
        if step("submit", S.AWAITING, h.found_at + span * lateness, "已按要求整改，附整改照片"):
            h.rectified_at, h.evidence = at, "已按要求整改，附整改照片"
            if rng.random() < 0.08 and step("reinspect_fail", S.RECTIFYING, at + timedelta(days=1), "复查发现整改不到位"):
                h.rework_count, h.rectified_at = 1, None
                if step("submit", S.AWAITING, at + timedelta(days=2), "已重新整改"):
                    h.rectified_at = at
            if state == S.AWAITING and rng.random() < 0.985:
                step("reinspect_pass", S.CLOSED, at + timedelta(days=rng.choice((0.2, 1, 2))), "")
                if state == S.CLOSED:
                    h.closed_at = at
    h.state, h.version = state, version
    if h.state != S.AWAITING and h.rectified_at and h.state != S.CLOSED:
        h.rectified_at = None
    return steps


def _escalate_some(hazards: list[Hazard], leader: Any, rng: random.Random) -> int:
    """Two overdue hazards escalated into cases through the services, as a leader would."""
    if leader is None:
        return 0
    now = timezone.now()
    overdue = [h for h in hazards if h.state in (HazardState.OPEN, HazardState.RECTIFYING) and h.deadline_at < now]
    done = 0
    for hazard in rng.sample(overdue, min(2, len(overdue))):
        services.hazard_act(actor=leader, hazard=hazard, action="escalate",
                            reason="逾期拒不整改，移交 1+3+N 联动执法")
        done += 1
    return done


def demo_step(subdistrict: OrgNode, *, seed: int) -> str:
    """safety's part of `jiedao seed` (registered in SafetyConfig.ready(), see core.seeding)."""
    counts = seed_safety(subdistrict, seed=seed)
    return (f"安全生产 / safety: {counts['inspections']} 次检查、{counts['hazards']} 个隐患、"
            f"{counts.get('tenancies', 0)} 个园区承租关系")
