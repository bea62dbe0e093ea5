"""The review's fixes (issue 17): scope follows the household's current place, the notice cannot
be backdated, out-of-range dates answer 4xx, and the smaller service and page refusals."""

from datetime import date, timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from jiedao.core.errors import DomainError
from jiedao.people import services as people_services
from jiedao.welfare.models.monitoring import Measure, MonitoredHousehold
from jiedao.welfare.monitoring import selectors, services

from .conftest import lead, to_monitored


def _move(world, household, node):
    return people_services.household_update(actor=world.admin, household=household, node=node)


# --- 1. scope follows the household's current place -------------------------------------------


def test_a_moved_household_goes_with_its_new_grid(world, mon, client):
    m = to_monitored(world, lead(world, mon.home, actor=world.worker))
    _move(world, mon.home, world.other_grid)
    today = timezone.localdate()
    with pytest.raises(Http404):
        selectors.monitored_get(world.worker, m.pk)
    assert not selectors.monitored_list(world.worker).filter(pk=m.pk).exists()
    assert m.pk not in [r.pk for r in selectors.overdue_in_month(world.worker, today.replace(day=1))]
    mine = selectors.my_visits(world.worker)
    assert m.pk not in [r.pk for r in mine.this_week + mine.later + mine.done]
    with pytest.raises(Http404):
        services.visit_record(actor=world.worker, monitored=m, note="旧网格")
    assert selectors.monitored_get(world.other_worker, m.pk).pk == m.pk
    assert selectors.monitored_list(world.other_worker).filter(pk=m.pk).exists()
    assert selectors.figures(world.other_worker, today, today).households == 1
    assert selectors.figures(world.worker, today, today).households == 0
    measure = Measure.objects.create(monitored=m, category="medical", content="救助", owner="村委", due_on=today)
    with pytest.raises(Http404):
        selectors.measure_get(world.worker, measure.pk)
    assert selectors.measure_get(world.other_worker, measure.pk).pk == measure.pk
    services.visit_record(actor=world.other_worker, monitored=m, note="新网格")
    client.force_login(world.worker)
    assert client.get(f"/welfare/monitoring/{m.pk}/").status_code == 404
    client.force_login(world.other_worker)
    assert client.get(f"/welfare/monitoring/{m.pk}/").status_code == 200
