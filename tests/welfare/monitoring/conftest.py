"""Monitoring fixtures on the shared world (tests/conftest.py): a household with two residents
in each of three grids, and the year's monitoring line.

    东门第一网格 (building 1幢): 101 户 (张网格's)    东门第二网格: 201 户    横塘第一网格: 301 户
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from jiedao.people import services as people_services
from jiedao.people.models import Household
from jiedao.welfare.models.monitoring import MonitoredHousehold, MonitoringState
from jiedao.welfare.monitoring import services


@dataclass
class Mon:
    home: Household
    other: Household
    village: Household


def make_households(world) -> Mon:
    def household(node, number):
        h = people_services.household_create(actor=world.admin, node=node, number=number, address=f"测试路{number}号")
        people_services.resident_create(actor=world.admin, node=node, household=h, name=f"户主{number}", relation="户主")
        people_services.resident_create(actor=world.admin, node=node, household=h, name=f"家属{number}", relation="子女")
        return h

    m = Mon(home=household(world.building, "101"), other=household(world.other_grid, "201"),
            village=household(world.village_grid, "301"))
    services.line_set(actor=world.admin, subdistrict=world.subdistrict, year=timezone.localdate().year, amount=7200)
    return m


@pytest.fixture
def mon(world):
    return make_households(world)


def lead(world, household, actor=None, **kwargs):
    return services.monitored_create(actor=actor or world.secretary, household=household,
                                     **{"kind": "marginal", "risk_types": ["illness"], "lead_source": "cadre_visit",
                                        **kwargs})


def put_in_state(m: MonitoredHousehold, state: str) -> MonitoredHousehold:
    """Set a row straight to `state` with the dates its guards read (for the state × action matrix)."""
    today = timezone.localdate()
    m.state = state
    m.deliberated_on = m.exit_deliberated_on = today - timedelta(days=8)
    m.notice_from, m.notice_to = today - timedelta(days=7), today - timedelta(days=2)
    m.exit_notice_from, m.exit_notice_to = today - timedelta(days=7), today - timedelta(days=2)
    if state in (MonitoringState.MONITORED, MonitoringState.EXIT_VERIFIED, MonitoringState.EXIT_DELIBERATED,
                 MonitoringState.EXIT_NOTICE, MonitoringState.REMOVED):
        m.included_on = today - timedelta(days=60)
    m.save()
    return m


def backdate_deliberation(m: MonitoredHousehold, days: int = 7, *, exit: bool = False) -> None:
    """Write the (exit) deliberation `days` ago straight into the row, so a notice may start in the
    past and be over today (the services never backdate a deliberation)."""
    field = "exit_deliberated_on" if exit else "deliberated_on"
    MonitoredHousehold.objects.filter(pk=m.pk).update(**{field: timezone.localdate() - timedelta(days=days)})


def to_monitored(world, m: MonitoredHousehold) -> MonitoredHousehold:
    """Walk a lead through the entry steps with the services; the deliberation is written a week
    back so the notice (dated from the day after it) is over today."""
    today = timezone.localdate()
    services.monitored_act(actor=world.worker, monitored=m, action="verify", consent_on=today, income_per_head=5000)
    services.monitored_act(actor=world.secretary, monitored=m, action="deliberate", reason="评议通过")
    backdate_deliberation(m)
    services.monitored_act(actor=world.secretary, monitored=m, action="publish",
                           notice_from=today - timedelta(days=6), notice_to=today - timedelta(days=1))
    return services.monitored_act(actor=world.secretary, monitored=m, action="approve")
