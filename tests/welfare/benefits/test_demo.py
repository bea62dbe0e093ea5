"""The demo step on the small world: it runs, is deterministic, and every payment lies in its grant's period."""

import pytest

from jiedao.welfare.benefits import demo
from jiedao.welfare.models.benefits import Grant, Payment

pytestmark = pytest.mark.django_db


def test_demo_step_seeds_grants_and_payments_in_their_periods(world, ben):
    line = demo.demo_step(world.subdistrict, seed=7)
    assert "救助补贴" in line
    assert Grant.objects.exists() and Payment.objects.exists()
    assert not [g for g in Grant.objects.all() if g.ends_on and g.ends_on < g.starts_on]
    for p in Payment.objects.select_related("grant"):
        assert p.grant.starts_on.replace(day=1) <= p.month
        assert p.grant.ends_on is None or p.month <= p.grant.ends_on
        assert (p.programme_id, p.resident_id, p.node_id) == (p.grant.programme_id, p.grant.resident_id, p.grant.node_id)
    first = sorted(Payment.objects.values_list("resident_id", "month", "amount"))
    Payment.objects.all().delete()
    Grant.objects.all().delete()
    demo.demo_step(world.subdistrict, seed=7)
    assert sorted(Payment.objects.values_list("resident_id", "month", "amount")) == first
