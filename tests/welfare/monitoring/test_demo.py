"""The demo step on a small village: it runs, stays in the villages, and its rows agree with the figures."""

from django.utils import timezone

from jiedao.people import services as people_services
from jiedao.welfare.models.monitoring import MonitoredHousehold, MonitoringState, MonitoringVisit
from jiedao.welfare.monitoring import demo, selectors


def test_demo_step_writes_a_believable_year(world):
    for n in range(12):
        h = people_services.household_create(actor=world.admin, node=world.village_grid, number=f"V{n:03d}",
                                             address=f"横塘村{n}号")
        people_services.resident_create(actor=world.admin, node=world.village_grid, household=h, name=f"村民{n}")
    h = people_services.household_create(actor=world.admin, node=world.building, number="C001", address="城里")
    people_services.resident_create(actor=world.admin, node=world.building, household=h, name="居民")
    line = demo.demo_step(world.subdistrict, seed=1)
    assert "防止返贫动态监测" in line
    rows = list(MonitoredHousehold.objects.all())
    assert len(rows) == 12 and all(r.household.node_id == world.village_grid.pk for r in rows)
    assert MonitoringVisit.objects.exists()
    for r in rows:
        assert r.version == r.transitions.count() - 1  # the lead row is seq 0
        if r.state == MonitoringState.MONITORED:
            assert r.included_on and r.decided_on and r.notice_to < r.included_on
    today = timezone.localdate()
    f = selectors.figures(world.leader, today.replace(month=1, day=1), today)
    assert f.households == sum(1 for r in rows if r.state == MonitoringState.MONITORED)
    assert f.visited <= f.due
