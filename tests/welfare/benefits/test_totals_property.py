"""The benefit totals (docs/figures.md § 救助补贴) recounted from raw payment rows on random histories.

Random grants of random residents in random programmes, then random payments (month, amount to
the fen, persons) through the real services, suspensions and exits included (refused payments
change nothing). For every named user's scope, every granularity and a random period,
`selectors.totals` and `selectors.panel_figures` are compared with a brute force over the raw
Payment rows the user may see: 人次 = Σ persons, 金额 = Σ amount (exact), 人数 = distinct residents,
户数 = distinct households (a resident without one counts alone), 人均补差 = 金额 ÷ 人次. A
community row never exceeds its subtotal, and the community rows' 人次 and 金额 add up to it.
"""

from __future__ import annotations

import os
from collections import defaultdict
from contextlib import suppress
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from jiedao.core import caching, scope
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.welfare.benefits import selectors, services
from jiedao.welfare.benefits.workflow import GrantAction
from jiedao.welfare.models.benefits import Payment

pytestmark = pytest.mark.django_db
EXAMPLES = int(os.environ.get("JIEDAO_BENEFITS_EXAMPLES", "10"))
USERS = ("worker", "other_worker", "village_worker", "secretary", "leader", "admin")
MONTHS = [date(2025, m, 1) for m in range(1, 13)] + [date(2026, m, 1) for m in range(1, 12)]


def _period(granularity: str, month: date) -> date:
    if granularity == "year":
        return date(month.year, 1, 1)
    if granularity == "quarter":
        return date(month.year, (month.month - 1) // 3 * 3 + 1, 1)
    return month


def brute(user, start: date, end: date, granularity: str):
    rows = [p for p in Payment.objects.all() if start.replace(day=1) <= p.month <= end
            and scope.path_allows(user, Perm.VIEW_WELFARE, p.node.path)]
    groups: dict[tuple, list[Payment]] = defaultdict(list)
    for p in rows:
        groups[(p.programme_id, _period(granularity, p.month), None)].append(p)
        groups[(p.programme_id, _period(granularity, p.month), p.community_id)].append(p)
    out = {}
    for key, items in groups.items():
        times = sum(p.persons for p in items)
        amount = sum((p.amount for p in items), Decimal("0"))
        households = {("h", p.household_id) if p.household_id else ("r", p.resident_id) for p in items}
        out[key] = (times, len({p.resident_id for p in items}), len(households), amount)
    return out


def program(world, ben, data) -> None:
    residents = [ben.zhang, ben.li, ben.wang, ben.zhao, ben.qian]
    programmes = [ben.urban, ben.rural, ben.longevity, ben.rent]
    grants = []
    for _ in range(data.draw(st.integers(1, 6), label="grants")):
        resident = data.draw(st.sampled_from(residents), label="resident")
        programme = data.draw(st.sampled_from(programmes), label="programme")
        with suppress(DomainError):
            grants.append(services.grant_create(
                actor=world.admin, programme=programme, resident=resident,
                starts_on=data.draw(st.sampled_from(MONTHS[:6]), label="start"),
                amount=data.draw(st.decimals(min_value=1, max_value=3000, places=2), label="amount"),
                persons=data.draw(st.integers(1, 4), label="persons")))
    if not grants:
        return
    for _ in range(data.draw(st.integers(0, 30), label="payments")):
        grant = data.draw(st.sampled_from(grants), label="grant")
        action = data.draw(st.sampled_from(["pay", "pay", "pay", "pay", "suspend", "resume", "end"]), label="action")
        with suppress(DomainError):
            if action == "pay":
                services.payment_record(
                    actor=world.admin, grant=grant, month=data.draw(st.sampled_from(MONTHS), label="month"),
                    amount=data.draw(st.decimals(min_value=0, max_value=5000, places=2), label="paid"),
                    persons=data.draw(st.integers(1, 5), label="covered"))
            else:
                services.grant_act(actor=world.admin, grant=grant, action=GrantAction(action), reason="测试")


def check(world, data, dibao: set[int]) -> None:
    for name in USERS:
        user = getattr(world, name)
        caching.clear()
        start = data.draw(st.sampled_from(MONTHS), label="from")
        end = data.draw(st.sampled_from([m for m in MONTHS if m >= start]), label="to")
        end = date(end.year, end.month, 28)
        for granularity in ("month", "quarter", "year"):
            expected = brute(user, start, end, granularity)
            got = {}
            for row in selectors.totals(user, start=start, end=end, granularity=granularity):
                for item in (row, *row.details):
                    got[(row.programme.pk, row.period, item.community_id)] = (
                        item.person_times, item.persons, item.households, item.amount)
                    if item.person_times:
                        assert item.per_capita == (item.amount / item.person_times).quantize(
                            Decimal("0.01"), rounding=ROUND_HALF_UP)
                assert sum(d.person_times for d in row.details) == row.person_times
                assert sum((d.amount for d in row.details), Decimal("0")) == row.amount
                assert all(d.persons <= row.persons and d.households <= row.households for d in row.details)
            assert got == expected, (name, granularity)
        figures = dict((label, value) for label, value, _ in selectors.panel_figures(user, None, start, end))
        times = sum(v[0] for k, v in brute(user, start, end, "year").items()
                    if k[2] is None and k[0] in dibao)
        assert figures["低保人次"] == f"{times}人次"


def test_random_histories_total_by_the_book(world, ben):

    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def run(data):
        caching.clear()
        with transaction.atomic():
            program(world, ben, data)
            check(world, data, {ben.urban.pk, ben.rural.pk})
            transaction.set_rollback(True)

    run()


def test_seed_figures_read_as_the_reports_say(world, ben):
    """7735人次 at 200元 each is 1,547,000元; 9 persons at 1200元 is 10800元."""
    grant = services.grant_create(actor=world.admin, programme=ben.urban, resident=ben.zhang,
                                  starts_on=date(2026, 1, 1), amount="1000", persons=5)
    for month in range(1, 4):
        services.payment_record(actor=world.admin, grant=grant, month=date(2026, month, 1))
    row = selectors.totals(world.admin, start=date(2026, 1, 1), end=date(2026, 12, 31))[0]
    assert row.headline == "15人次，人均补差200元，共3000元"
    assert selectors.yuan_words(Decimal("261340")) == "26.13万元"
    assert selectors.yuan_words(Decimal("2300000")) == "230万元"
    assert selectors.yuan_words(Decimal("10800")) == "10800元"
