"""The scope table of /api/v1/welfare/monitoring (collected by tests/welfare/scope_table.py).

The objects live in 东门第一网格 (tests/welfare/monitoring/conftest.py): household 101 under
monitoring since two months ago (no visit since, so on last month's overdue list) with one
measure, and household 102 not monitored (for a new lead). The outsiders are the grid workers of
东门第二网格 and 横塘第一网格.
"""

from datetime import date

from tests.scope import Endpoint

TODAY = date.today().isoformat()
START = date.today().replace(month=1, day=1).isoformat()


def build(world) -> dict:
    from datetime import timedelta

    from django.utils import timezone

    from jiedao.people import services as people_services
    from jiedao.welfare.models.monitoring import MonitoredHousehold
    from tests.welfare.monitoring.conftest import lead, make_households, to_monitored

    m = make_households(world)
    spare = people_services.household_create(actor=world.admin, node=world.grid, number="102", address="测试路102号")
    monitored = to_monitored(world, lead(world, m.home, actor=world.worker))
    MonitoredHousehold.objects.filter(pk=monitored.pk).update(included_on=timezone.localdate() - timedelta(days=70))
    measure = monitored.measures.create(category="medical", content="大病救助", owner="村委会",
                                        due_on=timezone.localdate() + timedelta(days=30))
    return {"monitored": monitored.pk, "measure": measure.pk, "spare_household": spare.pk}


EXIT = {"action": "exit_verify", "exit_income": 9000, "secure_education": True, "secure_medical": True,
        "secure_housing": True, "secure_water": True}
LEAD = {"household": "{spare_household}", "kind": "marginal", "risk_types": ["illness"], "lead_source": "self_report"}
EVERYONE_RECORDS = ("everyone who sees a monitored household (welfare.view) also records for it (welfare.record): "
                    "grid staff visit, communities and leaders manage")

ENDPOINTS = [
    Endpoint("GET", "/welfare/monitoring/workflow", "reference", why="the entry/exit transition table, the same "
             "for everyone"),
    Endpoint("GET", "/welfare/monitoring/households", "list", owner="worker", listed="monitored"),
    Endpoint("POST", "/welfare/monitoring/households", "create", LEAD, owner="worker", why_no_403=EVERYONE_RECORDS),
    Endpoint("GET", "/welfare/monitoring/households/{monitored}", "detail", owner="worker"),
    Endpoint("POST", "/welfare/monitoring/households/{monitored}/actions", "action", EXIT, owner="worker",
             forbidden="leader"),
    Endpoint("POST", "/welfare/monitoring/households/{monitored}/adjust", "action",
             {"reason": "突发严重困难", "kind": "sudden"}, owner="secretary", forbidden="worker"),
    Endpoint("GET", "/welfare/monitoring/households/{monitored}/changes", "detail", owner="worker"),
    Endpoint("POST", "/welfare/monitoring/households/{monitored}/measures", "create",
             {"category": "education", "content": "教育资助", "owner": "村委会", "due_on": TODAY}, owner="worker",
             why_no_403=EVERYONE_RECORDS),
    Endpoint("PATCH", "/welfare/monitoring/measures/{measure}", "update", {"status": "done"}, owner="worker",
             why_no_403=EVERYONE_RECORDS),
    Endpoint("GET", "/welfare/monitoring/households/{monitored}/visits", "detail", owner="worker"),
    Endpoint("POST", "/welfare/monitoring/households/{monitored}/visits", "create", {"note": "走访"}, owner="worker",
             why_no_403=EVERYONE_RECORDS),
    Endpoint("GET", "/welfare/monitoring/mine", "own", why="the caller's own households as their cadre"),
    Endpoint("GET", "/welfare/monitoring/overdue", "list", owner="worker", listed="monitored"),
    Endpoint("GET", "/welfare/monitoring/lines", "reference", why="the yearly monitoring lines (yuan per person) of "
             "the sub-districts the caller sees in welfare; no personal data"),
    Endpoint("PUT", "/welfare/monitoring/lines", "update",
             {"subdistrict": "{subdistrict}", "year": 2030, "amount": 9000}, owner="leader",
             why_no_403="everyone who sees a sub-district's welfare (its leaders and administrators) manages it"),
    Endpoint("GET", "/welfare/monitoring/figures", "detail", {"start": START, "end": TODAY, "node": "{grid}"},
             owner="worker"),
]
