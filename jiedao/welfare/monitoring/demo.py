"""Demo data of 防止返贫动态监测 for the demo sub-district: a believable year.

About 150 households of the villages were under monitoring before the year began (the seed's
"162户、240人" after the year's changes); during the year some 30 new leads came in (most
included within 15 days, a few rejected, two still in the steps — one past its 15 days), about
a dozen households had their risk marked removed, and each household under monitoring got its
monthly visit with a few gaps (the overdue list is not empty), some visits recording an income
change or a risk added or removed. Every household has a plan (一户一策) of one to three
measures. Members are those living together as recorded at the home check (often fewer than the
register's household). Written in bulk, deterministic per seed.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from jiedao.core import audit, scope
from jiedao.core.permissions import Role
from jiedao.org.models import NodeKind, OrgNode, RoleAssignment
from jiedao.people.models import Household
from jiedao.welfare.models.monitoring import (
    ChangeField,
    Measure,
    MeasureStatus,
    MonitoredHousehold,
    MonitoringChange,
    MonitoringLine,
    MonitoringState,
    MonitoringTransition,
    MonitoringVisit,
    RiskType,
)

STOCK, NEW_LEADS, REMOVED = 150, 30, 12
KINDS = ("unstable", "marginal", "marginal", "sudden")
RISKS = ("illness", "illness", "illness", "disability", "disability", "schooling", "disaster", "accident",
         "employment", "employment", "labour", "labour", "other")
MEASURES = {
    "illness": ("medical", "落实医疗保险参保资助和大病救助，家庭医生签约随访"),
    "disability": ("safety_net", "落实残疾人两项补贴，申请纳入低保"),
    "schooling": ("education", "落实教育资助和“雨露计划”补助"),
    "disaster": ("housing", "受灾房屋维修加固，落实临时救助"),
    "accident": ("safety_net", "申请临时救助，协调商业保险理赔"),
    "employment": ("employment", "推荐公益性岗位或就近就业，开展技能培训"),
    "labour": ("industry", "发展庭院经济，对接村集体经济项目分红"),
    "other": ("microcredit", "申请扶贫小额信贷 5 万元，发展种养殖"),
}
OWNERS = ("村委会", "街道社会事务办", "街道农业农村办", "街道人社服务中心", "结对帮扶干部", "村股份经济合作社")
NOTES = ("家中情况稳定，按时服药。", "了解务工收入情况，劝导参加技能培训。", "宣传医保和大病救助政策。",
         "住房安全，饮水正常。", "孩子在校情况良好，资助已到位。", "帮助联系公益性岗位。", "老人身体一般，提醒按时复诊。",
         "核对家庭收入，填写走访记录卡。", "种养殖项目进展正常。", "落实小额信贷还款提醒。")


def _at(day: date, rng: random.Random) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(rng.randint(9, 17), rng.randrange(60))))


def _month_starts(first: date, last: date) -> list[date]:
    months, day = [], first.replace(day=1)
    while day <= last:
        months.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    return months


@transaction.atomic
def seed_monitoring(subdistrict: OrgNode, *, seed: int) -> dict[str, int]:
    rng = random.Random(seed * 53 + subdistrict.pk)
    today = timezone.localdate()
    year_ago = today - timedelta(days=365)
    villages = list(OrgNode.objects.filter(subdistrict=subdistrict, kind=NodeKind.VILLAGE).values_list("path", flat=True))
    where = Q()
    for path in villages:
        where |= Q(node__path__range=scope.subtree_range(path))
    households = list(Household.objects.filter(subdistrict=subdistrict).filter(where if villages else Q())
                      .select_related("node").annotate(n=Count("members", filter=Q(members__is_active=True)))
                      .filter(n__gt=0).order_by("pk"))
    if not households:
        return {"households": 0, "visits": 0}
    households = rng.sample(households, min(len(households), STOCK + NEW_LEADS))
    roles = list(RoleAssignment.objects.filter(node__subdistrict=subdistrict).select_related("node", "user")
                 .order_by("pk"))
    workers = sorted(((r.node.path, r.user) for r in roles if r.role in (Role.GRID_WORKER, Role.GRID_LEADER)),
                     key=lambda pair: -len(pair[0]))
    community = [(r.node.path, r.user) for r in roles if r.role in (Role.COMMUNITY_SECRETARY, Role.COMMUNITY_STAFF)]

    def near(path: str, pool: list[tuple[str, Any]]) -> Any:
        return next((user for p, user in pool if path.startswith(p)), None)

    MonitoringLine.objects.bulk_create([
        MonitoringLine(subdistrict=subdistrict, year=today.year - 1, amount=Decimal(6900),
                       notes="参照上年度农村低保标准确定（演示值）"),
        MonitoringLine(subdistrict=subdistrict, year=today.year, amount=Decimal(7200),
                       notes="参照上年度农村低保标准确定（演示值）")])

    rows, plans = [], []
    for index, household in enumerate(households):
        risks = sorted(set(rng.sample(RISKS, rng.choice((1, 1, 1, 2, 2)))), key=RiskType.values.index)
        members = min(household.n, rng.choice((1, 1, 1, 1, 2, 2, 2)) + (rng.random() < 0.05))
        cadre = near(household.node.path, workers)
        secretary = near(household.node.path, community)
        m = MonitoredHousehold(
            household=household, subdistrict=subdistrict, kind=rng.choice(KINDS),
            risk_types=risks, cadre=cadre, members=members,
            income_per_head=Decimal(rng.randrange(4200, 7000, 100)))
        steps: list[tuple[str, str, str, date, str, dict]] = []
        if index < STOCK:  # under monitoring since before the year
            lead = today - timedelta(days=rng.randint(400, 1000))
            m.lead_source = rng.choice(("self_report", "cadre_visit", "department"))
            m.lead_on, m.lead_note = lead, "年度排查发现，收入低于监测标准"
            decided = lead + timedelta(days=rng.randint(8, 14))
            _entry(m, lead, decided, steps)
            m.state = MonitoringState.MONITORED
            if index < REMOVED:  # risk removed during the year
                removed_on = today - timedelta(days=rng.randint(20, 330))
                _exit(m, removed_on, steps, rng)
        else:  # a new lead during the year
            lead = today - timedelta(days=rng.randint(3, 330))
            m.lead_source = rng.choice(("self_report", "cadre_visit", "department", "department"))
            m.lead_on, m.lead_note = lead, rng.choice(("突发重病，医疗支出大", "家庭主要劳动力务工受伤", "房屋受台风损坏",
                                                      "医保、民政部门数据比对预警", "孩子上大学，教育支出增加"))
            roll = index - STOCK
            if roll < 2 or lead > today - timedelta(days=7):  # still in the steps (the first one late)
                m.lead_on = lead = today - timedelta(days=22 if roll == 0 else min(5, (today - lead).days))
                m.state = MonitoringState.VERIFIED
                m.consent_on = m.verified_on = lead + timedelta(days=2)
                steps.append(("verify", "lead", "verified", m.verified_on, "", {}))
            elif roll < 6:  # rejected
                m.state = MonitoringState.REJECTED
                m.consent_on = m.verified_on = lead + timedelta(days=2)
                m.decided_on = lead + timedelta(days=4)
                steps.append(("verify", "lead", "verified", m.verified_on, "", {}))
                steps.append(("reject", "verified", "rejected", m.decided_on, "核实人均纯收入高于监测标准，且无刚性支出",
                              {}))
            else:
                decided = lead + timedelta(days=17 if rng.random() < 0.08 else rng.randint(9, 14))
                _entry(m, lead, min(decided, today), steps)
                m.state = MonitoringState.MONITORED
        rows.append(m)
        plans.append((steps, secretary, cadre))
    MonitoredHousehold.objects.bulk_create(rows, batch_size=500)

    history, measures, visits, changes = [], [], [], []
    for m, (steps, secretary, cadre) in zip(rows, plans, strict=True):
        history.append(MonitoringTransition(monitored=m, seq=0, action="lead", from_state="lead", to_state="lead",
                                            actor=cadre, actor_repr=cadre.username if cadre else "",
                                            reason=m.lead_note, data={"source": m.lead_source},
                                            created_at=_at(m.lead_on, rng)))
        for seq, (action, source, target, day, reason, data) in enumerate(steps, start=1):
            actor = cadre if action in ("verify", "exit_verify") else secretary
            history.append(MonitoringTransition(monitored=m, seq=seq, action=action, from_state=source,
                                                to_state=target, actor=actor, actor_repr=actor.username if actor else "",
                                                reason=reason, data=data, created_at=_at(day, rng)))
        m.version = len(steps)
        if m.included_on is None:
            continue
        for risk in m.risk_types:
            category, content = MEASURES[risk]
            due = max(m.included_on + timedelta(days=rng.randint(30, 200)), year_ago)
            done = due - timedelta(days=rng.randint(0, 25))
            status = MeasureStatus.DONE if done < today and rng.random() < 0.93 else (
                MeasureStatus.ONGOING if rng.random() < 0.7 else MeasureStatus.PLANNED)
            measures.append(Measure(monitored=m, category=category, content=content, owner=rng.choice(OWNERS),
                                    due_on=due, status=status, done_on=done if status == MeasureStatus.DONE else None,
                                    progress="已落实" if status == MeasureStatus.DONE else ""))
        # monthly visits over the year, with gaps
        end = m.removed_on or today
        last = None
        income = m.income_per_head
        for first in _month_starts(max(year_ago, m.included_on), end):
            if not (m.included_on <= first or first == m.included_on.replace(day=1)):
                continue
            month_end = min((first + timedelta(days=32)).replace(day=1) - timedelta(days=1), end)
            current = first == today.replace(day=1)
            share = 0.93 if not current else min(0.9, today.day / 30)
            if rng.random() > share:
                continue
            day = first + timedelta(days=rng.randint(0, max(0, (month_end - first).days)))
            if day < m.included_on:
                day = m.included_on
            visit = MonitoringVisit(monitored=m, visited_on=day, cadre=cadre, note=rng.choice(NOTES))
            if rng.random() < 0.12:
                new = income + Decimal(rng.randrange(200, 1500, 100))
                visit.income_per_head = new
                changes.append((m, visit, ChangeField.INCOME, str(income), str(new), day, cadre))
                income = new
            visits.append(visit)
            last = day
        m.income_per_head = income
        m.last_visit_on = last
    MonitoringTransition.objects.bulk_create(history, batch_size=2000)
    Measure.objects.bulk_create(measures, batch_size=1000)
    MonitoringVisit.objects.bulk_create(visits, batch_size=2000)
    MonitoringChange.objects.bulk_create([
        MonitoringChange(monitored=m, field=field, old=old, new=new, visit=visit, actor=cadre,
                         reason=f"{day.isoformat()} 走访：务工收入增加", created_at=_at(day, rng))
        for m, visit, field, old, new, day, cadre in changes], batch_size=1000)
    MonitoredHousehold.objects.bulk_update(rows, ["income_per_head", "last_visit_on", "version"], batch_size=500)
    audit.record(actor=None, action="welfare.monitoring.demo.seed", object_type="welfare.monitoring.demo",
                 object_id=subdistrict.pk, object_repr=subdistrict.name,
                 after={"households": len(rows), "visits": len(visits), "measures": len(measures)})
    under = [m for m in rows if m.state in (MonitoringState.MONITORED,) and m.removed_on is None]
    return {"households": len(under), "people": sum(m.members for m in under), "visits": len(visits)}


def _entry(m: MonitoredHousehold, lead: date, decided: date, steps: list) -> None:
    span = (decided - lead).days
    m.consent_on = m.verified_on = lead + timedelta(days=max(1, span // 6))
    m.deliberated_on = lead + timedelta(days=max(2, span // 3))
    m.notice_from = m.deliberated_on + timedelta(days=1)
    m.notice_to = m.notice_from + timedelta(days=4)
    m.decided_on = m.included_on = max(decided, m.notice_to + timedelta(days=1))
    steps += [("verify", "lead", "verified", m.verified_on, "", {"consent_on": m.consent_on.isoformat()}),
              ("deliberate", "verified", "deliberated", m.deliberated_on, "村民代表会议评议通过", {}),
              ("publish", "deliberated", "notice", m.notice_from, "",
               {"from": m.notice_from.isoformat(), "to": m.notice_to.isoformat()}),
              ("approve", "notice", "monitored", m.decided_on, "", {"within_limit": m.decided_on <= m.decision_due})]


def _exit(m: MonitoredHousehold, removed_on: date, steps: list, rng: random.Random) -> None:
    m.exit_income = Decimal(rng.randrange(9000, 15000, 100))
    m.secure_education = m.secure_medical = m.secure_housing = m.secure_water = True
    m.exit_verified_on = removed_on - timedelta(days=12)
    m.exit_deliberated_on = removed_on - timedelta(days=9)
    m.exit_notice_from = removed_on - timedelta(days=7)
    m.exit_notice_to = removed_on - timedelta(days=2)
    m.removed_on = removed_on
    m.state = MonitoringState.REMOVED
    steps += [("exit_verify", "monitored", "exit_verified", m.exit_verified_on, "",
               {"exit_income": str(m.exit_income)}),
              ("exit_deliberate", "exit_verified", "exit_deliberated", m.exit_deliberated_on, "村民代表会议评议通过", {}),
              ("exit_publish", "exit_deliberated", "exit_notice", m.exit_notice_from, "", {}),
              ("exit_approve", "exit_notice", "removed", m.removed_on, "", {})]


def demo_step(subdistrict: OrgNode, *, seed: int) -> str:
    """monitoring's part of `jiedao seed` (registered in WelfareConfig.ready(), see core.seeding)."""
    counts = seed_monitoring(subdistrict, seed=seed)
    return (f"防止返贫动态监测 / welfare monitoring: {counts['households']} 户、{counts.get('people', 0)} 人在监测，"
            f"{counts['visits']} 次走访")
