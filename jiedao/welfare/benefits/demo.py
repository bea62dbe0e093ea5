"""Demo benefits for the demo sub-district: the programme catalogue and a believable year of
grants and monthly payments, of the order of the seeds' figures ("7735人次纳入城市低保, 人均补差
达到200元", "143户 … 廉租住房补贴26万余元", "9名90岁以上的长寿老人 … 10800元", "扶贫小额信贷46户
230万元"), scaled down when the sub-district has fewer residents. Deterministic per seed; written
in bulk.
"""

from __future__ import annotations

import random
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from jiedao.org.models import NodeKind, OrgNode
from jiedao.people.models import Resident
from jiedao.welfare.benefits import services
from jiedao.welfare.models.benefits import Grant, GrantState, GrantTransition, Payment, PaymentSource, Programme


def _months(today: date) -> list[date]:
    """The twelve complete months before this one, oldest first."""
    first = today.replace(day=1)
    return [services.add_months(first, -n) for n in range(12, 0, -1)]


@transaction.atomic
def seed_benefits(subdistrict: OrgNode, *, seed: int) -> dict[str, Any]:
    rng = random.Random(seed * 53 + subdistrict.pk)
    services.programme_seed_defaults(actor=None)
    catalogue = {p.code: p for p in Programme.objects.all()}
    today = timezone.localdate()
    months = _months(today)
    sub_len = len(subdistrict.path)
    communities = {n.path: n for n in OrgNode.objects.filter(subdistrict=subdistrict,
                                                             kind__in=(NodeKind.COMMUNITY, NodeKind.VILLAGE))}
    residents = list(Resident.objects.filter(subdistrict=subdistrict, is_active=True)
                     .values_list("pk", "node_id", "node__path", "household_id", "birth_date").order_by("pk"))
    if not residents:
        return {"grants": 0, "payments": 0}
    members: dict[int, int] = {}
    heads: dict[int, tuple] = {}
    for row in residents:
        if row[3]:
            members[row[3]] = members.get(row[3], 0) + 1
            heads.setdefault(row[3], row)
    urban = [h for h in heads.values() if communities.get(h[2][:sub_len + 4]) is not None
             and communities[h[2][:sub_len + 4]].kind == NodeKind.COMMUNITY]
    rural = [h for h in heads.values() if communities.get(h[2][:sub_len + 4]) is not None
             and communities[h[2][:sub_len + 4]].kind == NodeKind.VILLAGE] or urban
    rng.shuffle(urban)
    rng.shuffle(rural)
    grants: list[Grant] = []
    plan: list[tuple[Grant, list[tuple[date, Decimal, int]]]] = []

    def grant(code: str, row: tuple, starts: date, amount: Decimal, persons: int, state: str = GrantState.ACTIVE,
              ends: date | None = None) -> Grant:
        programme = catalogue[code]
        community = communities.get(row[2][:sub_len + 4])
        # the next review is the first anniversary of the start from this month on (some fall due
        # this month: the due-review list has work), the last one a review interval before it
        review = services.next_review(programme, starts)
        while review is not None and review < today.replace(day=1):
            review = services.add_months(review, programme.review_months)
        reviewed = services.add_months(review, -programme.review_months) if review else None
        g = Grant(programme=programme, resident_id=row[0], household_id=row[3], node_id=row[1],
                  community=community, subdistrict=subdistrict, starts_on=starts, ends_on=ends, amount=amount,
                  persons=persons, next_review_on=None if state == GrantState.ENDED else review,
                  reviewed_on=reviewed if reviewed and reviewed > starts else None,
                  state=state, version=0 if state == GrantState.ACTIVE else 1)
        grants.append(g)
        return g

    # 低保 (urban and rural): households paid the monthly 补差, about 200 元 per person.
    def dibao(code: str, pool: list[tuple], count: int) -> None:
        for row in pool[:count]:
            persons = max(1, min(rng.choice((1, 2, 2, 2, 3, 3)), members.get(row[3], 1)))
            amount = Decimal(persons * rng.choice((150, 170, 180, 190, 200, 210, 220, 230, 250, 260)))
            roll = rng.random()
            if roll < 0.78:
                starts = date(rng.randint(2018, months[0].year - 1), rng.randint(1, 12), 1)
            else:
                starts = rng.choice(months[1:])
            state, ends = GrantState.ACTIVE, None
            if rng.random() < 0.06:
                ends = max(rng.choice(months[3:]), starts)
                state = GrantState.ENDED
            elif rng.random() < 0.03:
                state = GrantState.SUSPENDED
            g = grant(code, row, starts, amount, persons, state, ends)
            paid = [m for m in months if m >= starts.replace(day=1) and (ends is None or m <= ends)]
            if state == GrantState.SUSPENDED:
                paid = paid[:-2]
            plan.append((g, [(m, amount, persons) for m in paid]))

    n_urban = min(330, max(1, len(urban) // 4))
    dibao("dibao_urban", urban, n_urban)
    used = {row[3] for row in urban[:n_urban]}
    rural = [r for r in rural if r[3] not in used]
    n_rural = min(80, max(1, len(rural) // 5))
    dibao("dibao_rural", rural, n_rural)
    used |= {row[3] for row in rural[:n_rural]}

    # 特困供养: persons, 1300 元 a month.
    lone = [r for r in residents if r[0] not in {h[0] for h in heads.values() if h[3] in used}]
    rng.shuffle(lone)
    for row in lone[:20]:
        starts = date(rng.randint(2016, months[0].year - 1), rng.randint(1, 12), 1)
        g = grant("tekun", row, starts, Decimal("1300.00"), 1)
        plan.append((g, [(m, Decimal("1300.00"), 1) for m in months]))

    # 长寿补贴: the nine oldest past 90 (or the oldest nine), 1200 元 each, paid once in the year.
    oldest = sorted((r for r in residents if r[4]), key=lambda r: r[4])[:9]
    pay_month = months[5]
    for row in oldest:
        g = grant("changshou", row, date(pay_month.year, 1, 1) if pay_month.month > 1 else pay_month,
                  Decimal("1200.00"), 1)
        plan.append((g, [(pay_month, Decimal("1200.00"), 1)]))

    # 廉租住房补贴: 143 low-income households, about 1800 元 each for the year.
    pool = [h for h in heads.values() if h[3] not in used]
    rng.shuffle(pool)
    rent_month = months[8]
    for row in pool[:min(143, len(pool) // 3)]:
        amount = Decimal(rng.randrange(1200, 2500, 20))
        g = grant("lianzu", row, rent_month, amount, max(1, min(4, members.get(row[3], 1))))
        plan.append((g, [(rent_month, amount, g.persons)]))
    used |= {row[3] for row in pool[:min(143, len(pool) // 3)]}

    # 扶贫小额信贷: 46 households, 50,000 元 each, lent over the year (mostly in villages).
    pool = [h for h in rural if h[3] not in used] or [h for h in heads.values() if h[3] not in used]
    rng.shuffle(pool)
    for row in pool[:min(46, len(pool) // 2)]:
        month = rng.choice(months)
        g = grant("xiaoedaikuan", row, month, Decimal("50000.00"), max(1, min(4, members.get(row[3], 1))),
                  ends=services.add_months(month, 36))  # a three-year loan, 财政贴息
        plan.append((g, [(month, Decimal("50000.00"), g.persons)]))
    used |= {row[3] for row in pool[:min(46, len(pool) // 2)]}

    # 临时救助: a few households, one payment each.
    pool = [h for h in heads.values() if h[3] not in used]
    rng.shuffle(pool)
    for row in pool[:30]:
        month = rng.choice(months)
        amount = Decimal(rng.randrange(500, 3001, 100))
        g = grant("linshi", row, month, amount, max(1, min(4, members.get(row[3], 1))), GrantState.ENDED, month)
        plan.append((g, [(month, amount, g.persons)]))

    Grant.objects.bulk_create(grants, batch_size=500)
    now = timezone.now()
    steps = []
    for g in grants:
        if g.state == GrantState.ENDED:
            steps.append(GrantTransition(grant=g, seq=1, action="end", from_state=GrantState.ACTIVE,
                                         to_state=GrantState.ENDED, actor_repr="demo", created_at=now,
                                         reason="家庭收入超过低保标准，停发退出" if g.programme.code.startswith("dibao")
                                         else "一次性发放完毕"))
        elif g.state == GrantState.SUSPENDED:
            steps.append(GrantTransition(grant=g, seq=1, action="suspend", from_state=GrantState.ACTIVE,
                                         to_state=GrantState.SUSPENDED, actor_repr="demo", created_at=now,
                                         reason="外出务工未按时参加年度复核，暂停发放"))
    GrantTransition.objects.bulk_create(steps, batch_size=500)
    payments = [
        Payment(grant=g, programme_id=g.programme_id, resident_id=g.resident_id, household_id=g.household_id,
                node_id=g.node_id, community=g.community, subdistrict=subdistrict, month=month, amount=amount,
                persons=persons, source=PaymentSource.IMPORT if g.programme.code.startswith("dibao") else PaymentSource.MANUAL)
        for g, rows in plan for month, amount, persons in rows
    ]
    Payment.objects.bulk_create(payments, batch_size=1000)
    return {"grants": len(grants), "payments": len(payments)}


def demo_step(subdistrict: OrgNode, *, seed: int) -> str:
    """benefits' part of `jiedao seed` (registered in WelfareConfig.ready(), see core.seeding)."""
    counts = seed_benefits(subdistrict, seed=seed)
    return f"救助补贴 / benefits: {counts['grants']} 个资格、{counts['payments']} 笔发放"
