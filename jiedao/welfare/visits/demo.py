"""Demo visits and veterans for the demo sub-district: a year of visits to the residents the
people demo tagged (独居老人 weekly, 低保 monthly, 残疾人 quarterly, 退役军人 twice a year), by
the grid worker of each resident's grid, most on time, some slipping behind (overdue today) and a
few never visited; about a hundred veterans and other 优抚对象 with their information checks,
service requests and 优待证 applications at every stage. Written in bulk, deterministic per seed.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from jiedao.core import audit
from jiedao.core.permissions import Role
from jiedao.org.models import NodeKind, OrgNode, RoleAssignment
from jiedao.people.models import ResidentTag
from jiedao.welfare.models.visits import (
    CardApplication,
    CardState,
    CardStatus,
    CardTransition,
    RequestKind,
    RequestState,
    RequestTransition,
    ServiceRequest,
    Veteran,
    VeteranCategory,
    VeteranCheck,
    Visit,
    VisitMode,
)

FINDINGS = {
    "alone_elderly": ["身体状况良好，生活能自理", "血压偏高，已提醒按时服药", "家中燃气、电器检查正常", "子女每周来电，情绪稳定",
                      "腿脚不便，行动需搀扶", "冰箱内食物充足", "天冷添衣，已检查取暖设备"],
    "dibao": ["家庭收入无明显变化", "子女已就业，收入情况待核实", "就医支出较大", "按时领取低保金"],
    "disabled": ["康复训练正常进行", "辅具使用良好", "家属照料到位", "申请的护理补贴已到位"],
    "veteran": ["身体健康，生活稳定", "对优待政策了解清楚", "子女就业情况良好", "参加社区志愿服务"],
}
NEEDS = ["希望上门理发", "楼道灯损坏，夜间出行不便", "需要助餐服务", "想咨询护理补贴申请", "家中水管漏水，需要维修",
         "希望安装扶手", "需要陪同就医"]
REQUESTS = [(RequestKind.HELP, "家中老人住院，生活困难，申请临时救助"), (RequestKind.CLAIM, "咨询退役士兵养老保险接续"),
            (RequestKind.HELP, "子女就业困难，希望推荐就业岗位"), (RequestKind.CLAIM, "反映优待证乘车优待未落实"),
            (RequestKind.HELP, "住房漏雨，申请维修帮扶"), (RequestKind.CLAIM, "咨询伤残抚恤金调整")]
CATEGORIES = [VeteranCategory.VETERAN] * 14 + [VeteranCategory.MILITARY_FAMILY] * 3 + \
    [VeteranCategory.MARTYR_FAMILY, VeteranCategory.DISABLED_SOLDIER, VeteranCategory.OTHER]
VETERANS_MAX = 110


def _at(day: date, rng: random.Random) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(rng.randint(8, 17), rng.randrange(60))))


def _grid_workers(subdistrict: OrgNode) -> dict[str, int]:
    """Grid path → its first grid worker's user id."""
    chosen: dict[str, int] = {}
    for path, user_id in (RoleAssignment.objects.filter(node__subdistrict=subdistrict, node__kind=NodeKind.GRID,
                                                        role__in=(Role.GRID_WORKER, Role.GRID_LEADER))
                          .order_by("node__path", "-role", "pk").values_list("node__path", "user_id")):
        chosen.setdefault(path, user_id)
    return chosen


def _worker_for(path: str, workers: dict[str, int]) -> int | None:
    for grid, user_id in workers.items():
        if path.startswith(grid):
            return user_id
    return None


def _visits(rng: random.Random, subdistrict: OrgNode, today: date, workers: dict[str, int]) -> int:
    tags = list(ResidentTag.objects.filter(resident__subdistrict=subdistrict, resident__is_active=True,
                                           group__visit_interval_days__isnull=False)
                .values_list("resident_id", "resident__node__path", "group_id", "group__code",
                             "group__visit_interval_days").order_by("pk"))
    rows: list[Visit] = []
    groups: list[int] = []
    start = today - timedelta(days=365)
    for resident_id, path, group_id, code, interval in tags:
        roll = rng.random()
        if roll < 0.04:
            continue  # never visited
        visitor = _worker_for(path, workers)
        # most keep to the interval; some slipped behind and are overdue today
        stop = today - timedelta(days=interval + rng.randint(3, 60)) if roll < 0.16 else today
        day = start + timedelta(days=rng.randint(0, interval))
        while day <= stop:
            mode = rng.choices((VisitMode.HOME, VisitMode.PHONE, VisitMode.VIDEO), weights=(70, 22, 8))[0]
            need = rng.choice(NEEDS) if rng.random() < 0.04 else ""
            rows.append(Visit(resident_id=resident_id, visited_on=day, visitor_id=visitor, mode=mode, needs=need,
                              findings=rng.choice(FINDINGS.get(code, FINDINGS["veteran"]))))
            groups.append(group_id)
            day += timedelta(days=max(1, interval + rng.randint(-max(1, interval // 5), max(1, interval // 6))))
    Visit.objects.bulk_create(rows, batch_size=1000)
    through = Visit.groups.through
    through.objects.bulk_create([through(visit_id=v.pk, specialgroup_id=g) for v, g in zip(rows, groups, strict=True)],
                                batch_size=2000)
    return len(rows)


def _veterans(rng: random.Random, subdistrict: OrgNode, today: date, actor_id: int | None) -> dict[str, int]:
    residents = list(ResidentTag.objects.filter(resident__subdistrict=subdistrict, group__code="veteran",
                                                resident__is_active=True)
                     .order_by("pk").values_list("resident_id", flat=True)[:VETERANS_MAX])
    year_start = today - timedelta(days=365)
    veterans = []
    for resident_id in residents:
        enlisted = rng.randint(1965, 2015)
        veterans.append(Veteran(resident_id=resident_id, category=rng.choice(CATEGORIES), enlisted_year=enlisted,
                                discharged_year=min(today.year, enlisted + rng.choice((2, 2, 3, 5, 8, 12, 16))),
                                filed=rng.random() < 0.85))
    Veteran.objects.bulk_create(veterans, batch_size=500)
    checks, requests, applications = [], [], []
    for veteran in veterans:
        days = sorted(year_start + timedelta(days=rng.randint(0, 364)) for _ in range(rng.choice((0, 1, 1, 2, 2, 3))))
        checks += [VeteranCheck(veteran=veteran, checked_on=d, checker_id=actor_id, notes="核对身份、联系方式和优抚类别")
                   for d in days]
        veteran.checked_on = days[-1] if days else None
        if rng.random() < 0.3:
            kind, content = rng.choice(REQUESTS)
            requests.append(ServiceRequest(veteran=veteran, kind=kind, content=content, created_by_id=actor_id,
                                           received_on=year_start + timedelta(days=rng.randint(0, 364))))
        if rng.random() < 0.65:
            applications.append(CardApplication(veteran=veteran, created_by_id=actor_id,
                                                applied_on=year_start + timedelta(days=rng.randint(0, 364))))
    VeteranCheck.objects.bulk_create(checks, batch_size=1000)
    Veteran.objects.bulk_update(veterans, ["checked_on"], batch_size=500)
    request_steps = []
    for request in requests:
        age = (today - request.received_on).days
        steps = [] if age < 3 else (["start"] if age < 20 and rng.random() < 0.6 else ["start", "finish"])
        at = request.received_on
        state = RequestState.REGISTERED
        for seq, action in enumerate(steps, start=1):
            at = min(today, at + timedelta(days=rng.randint(1, 10)))
            target = RequestState.IN_PROGRESS if action == "start" else RequestState.DONE
            reason = "已协调相关部门解决，对象满意" if action == "finish" else ""
            request_steps.append((request, seq, action, state, target, reason, at))
            state = target
            if action == "finish":
                request.result, request.done_at = reason, _at(at, rng)
        request.state, request.version = state, len(steps)
    ServiceRequest.objects.bulk_create(requests, batch_size=500)
    RequestTransition.objects.bulk_create([
        RequestTransition(request=r, seq=seq, action=a, from_state=f, to_state=t, actor_id=actor_id,
                          actor_repr="demo", reason=reason, created_at=_at(at, rng))
        for r, seq, a, f, t, reason, at in request_steps], batch_size=1000)
    card_steps = []
    path = [("approve", CardState.REVIEWED), ("make", CardState.MADE), ("issue", CardState.ISSUED)]
    for application in applications:
        age = (today - application.applied_on).days
        reach = 0 if age < 7 else 1 if age < 20 else 2 if age < 40 else 3
        steps = [("reject", CardState.REJECTED)] if reach and rng.random() < 0.05 else path[:reach]
        state, at = CardState.APPLIED, application.applied_on
        for seq, (action, target) in enumerate(steps, start=1):
            at = min(today, at + timedelta(days=rng.randint(3, 12)))
            reason = "不属于优待证申领对象" if action == "reject" else ""
            card_steps.append((application, seq, action, state, target, reason, at))
            if action == "make":
                application.card_number = f"ZJ{rng.randint(10**9, 10**10 - 1)}"
            if action == "issue":
                application.issued_on = at
            state = target
        application.state, application.version = state, len(steps)
    CardApplication.objects.bulk_create(applications, batch_size=500)
    CardTransition.objects.bulk_create([
        CardTransition(application=a, seq=seq, action=act, from_state=f, to_state=t, actor_id=actor_id,
                       actor_repr="demo", reason=reason, created_at=_at(at, rng))
        for a, seq, act, f, t, reason, at in card_steps], batch_size=1000)
    for application in applications:
        veteran = application.veteran
        if application.state == CardState.ISSUED:
            veteran.card_status, veteran.card_number = CardStatus.ISSUED, application.card_number
        elif application.state != CardState.REJECTED:
            veteran.card_status = CardStatus.APPLYING
    Veteran.objects.bulk_update(veterans, ["card_status", "card_number"], batch_size=500)
    return {"veterans": len(veterans), "checks": len(checks), "requests": len(requests),
            "applications": len(applications)}


@transaction.atomic
def demo_step(subdistrict: OrgNode, *, seed: int) -> str:
    """visits' part of `jiedao seed` (registered in WelfareConfig.ready(), see core.seeding)."""
    rng = random.Random(seed * 53 + subdistrict.pk)
    today = timezone.localdate()
    workers = _grid_workers(subdistrict)
    secretary: Any = (RoleAssignment.objects.filter(node__subdistrict=subdistrict, role=Role.COMMUNITY_STAFF)
                      .order_by("pk").values_list("user_id", flat=True).first())
    visits = _visits(rng, subdistrict, today, workers)
    counts = _veterans(rng, subdistrict, today, secretary)
    audit.record(actor="jiedao seed", action="welfare.visits.demo.seed", obj=subdistrict,
                 after={"visits": visits, **counts}, reason="生成演示数据")
    return (f"走访与优抚 / visits: {visits} 次走访、{counts['veterans']} 名优抚对象、"
            f"{counts['applications']} 份优待证申请、{counts['requests']} 件诉求")
