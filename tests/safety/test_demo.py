"""The demo year (jiedao.safety.demo) on the test world: consistent histories, figures by the book."""

from datetime import timedelta
from itertools import pairwise

from django.utils import timezone

from jiedao.core import audit
from jiedao.people import services as people_services
from jiedao.safety import selectors
from jiedao.safety.demo import seed_safety
from jiedao.safety.models import Campaign, Hazard, HazardTransition
from tests.safety.test_figures_property import brute_force


def test_demo_year_is_consistent_and_counts_by_the_book(world):
    for n in range(30):
        node = (world.building, world.other_grid, world.village_grid)[n % 3]
        people_services.business_create(actor=world.admin, node=node, name=f"演示主体{n}",
                                        industry=("餐饮", "水产加工", "汽修", "零售")[n % 4])
    counts = seed_safety(world.subdistrict, seed=7)
    assert counts["inspections"] > 30 and Campaign.objects.count() == 5
    for hazard in Hazard.objects.all():
        steps = list(HazardTransition.objects.filter(hazard=hazard).order_by("seq"))
        assert steps[0].action == "report" and [s.seq for s in steps] == list(range(len(steps)))
        assert steps[-1].to_state == hazard.state and hazard.version == len(steps) - 1
        assert all(a.to_state == b.from_state for a, b in pairwise(steps))
    today = timezone.localdate()
    f = selectors.figures(world.leader, today - timedelta(days=365), today)
    expected = brute_force(world.leader, today - timedelta(days=365), today, timezone.now())
    assert {k: getattr(f, k) for k in expected} == expected
    assert audit.verify_chain().ok
