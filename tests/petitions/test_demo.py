"""The demo year (jiedao.petitions.demo) on the test world: consistent histories, figures by the book."""

from datetime import timedelta
from itertools import pairwise

from django.utils import timezone

from jiedao.petitions import selectors
from jiedao.petitions.demo import seed_petitions
from jiedao.petitions.models import MatterStage, Petition, PetitionTransition, RepeatedMatter
from tests.petitions.test_figures_property import brute_force


def test_demo_year_is_consistent_and_counts_by_the_book(world):
    counts = seed_petitions(world.subdistrict, seed=7)
    assert counts["petitions"] >= 280 and counts["matters"] == 12
    assert {s: RepeatedMatter.objects.filter(stage=s).count() for s in MatterStage.values} == {
        "diagnosing": 4, "planned": 5, "struck_off": 3}
    for p in Petition.objects.all():
        steps = list(PetitionTransition.objects.filter(petition=p).order_by("seq"))
        assert [s.seq for s in steps] == list(range(1, len(steps) + 1)) and p.version == len(steps)
        assert (steps[-1].to_state if steps else "registered") == p.state
        assert all(a.to_state == b.from_state for a, b in pairwise(steps))
    today = timezone.localdate()
    start = today - timedelta(days=365)
    f = selectors.figures(world.leader, None, start, today)
    expected = brute_force(world.leader, None, start, today, today)
    assert {k: getattr(f, k) for k in expected} == expected
    assert f.repeats > 10 and f.struck_off == 3 and 0.8 < f.accept_rate <= 1
    overdue = selectors.petition_list(world.leader, overdue="any").count()
    assert 0 < overdue < 30  # a handful open past their limits
    plans = list(selectors.key_plans(world.leader))
    assert len(plans) == 4 and all(p.last_contact_on is None or p.next_due > p.last_contact_on for p in plans)
