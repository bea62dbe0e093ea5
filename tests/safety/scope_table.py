"""The scope table of /api/v1/safety (checked by tests/test_api_scope.py).

The objects live in 东门第一网格 (tests/safety/conftest.py): businesses, a park with a tenant, a
campaign planned on the grid, an inspection of 海鲜排档 by 张网格 that found one hazard, and the
sub-district's fire checklist. The outsiders are the grid workers of 东门第二网格 and 横塘第一网格.
"""

from datetime import date

from tests.scope import Endpoint

TODAY = date.today().isoformat()


def build(world) -> dict:
    from django.utils import timezone

    from jiedao.people import services as people_services
    from jiedao.safety import services
    from tests.safety.conftest import make_safety

    s = make_safety(world)
    spare = people_services.business_create(actor=world.admin, node=world.grid, name="东门五金店", industry="零售")
    today = timezone.localdate()
    campaign = services.campaign_create(actor=world.secretary, node=world.grid, title="消防专项整治", kind="special",
                                        field="fire", starts_on=today.replace(day=1), ends_on=today.replace(day=28))
    item = s.item("ordinary")
    inspection = services.inspection_record(actor=world.worker, business=s.diner, inspected_on=today,
                                            template=s.fire, answers={item.pk: "fail"}, contact_name="陈老板")
    hazard = inspection.hazards.get()
    from tests.cases.test_views import png_upload

    photo = services.photos_add(actor=world.worker, inspection=inspection, uploads=[png_upload()])[0]
    return {"campaign": campaign.pk, "template": s.fire.pk, "diner": s.diner.pk, "park": s.park.pk,
            "spare": spare.pk, "inspection": inspection.pk, "hazard": hazard.pk, "photo": photo.pk}


CAMPAIGN = {"node": "{grid}", "title": "燃气安全排查", "kind": "sweep", "field": "gas", "starts_on": TODAY,
            "ends_on": TODAY}
TEMPLATE = {"node": "{subdistrict}", "field": "gas", "name": "燃气检查表", "items": [{"text": "报警器完好"}]}

ENDPOINTS = [
    Endpoint("GET", "/safety/campaigns", "list", owner="worker", listed="campaign"),
    Endpoint("POST", "/safety/campaigns", "create", CAMPAIGN, owner="secretary", forbidden="worker"),
    Endpoint("GET", "/safety/campaigns/{campaign}", "detail", owner="worker"),
    Endpoint("GET", "/safety/templates", "reference", why="the checklists of the sub-districts the caller works in, "
             "which every inspector uses (no personal data)"),
    Endpoint("POST", "/safety/templates", "create", TEMPLATE, owner="admin", forbidden="handler"),
    Endpoint("PATCH", "/safety/templates/{template}", "update", {"name": "消防检查表（2026）"}, owner="admin",
             forbidden="handler"),
    Endpoint("GET", "/safety/businesses/{diner}", "detail", owner="worker"),
    Endpoint("POST", "/safety/tenancies", "create", {"site": "{park}", "tenant": "{spare}", "kind": "park"},
             owner="worker", forbidden="leader"),
    Endpoint("GET", "/safety/inspections", "list", {"business": "{diner}"}, owner="worker", listed="inspection"),
    Endpoint("POST", "/safety/inspections", "create", {"business": "{diner}", "inspected_on": TODAY},
             owner="worker", forbidden="leader"),
    Endpoint("GET", "/safety/inspections/{inspection}", "detail", owner="worker"),
    Endpoint("GET", "/safety/workflow", "reference", why="the hazard transition table, the same for everyone"),
    Endpoint("GET", "/safety/hazards", "list", {"business": "{diner}"}, owner="worker", listed="hazard"),
    Endpoint("GET", "/safety/hazards/{hazard}", "detail", owner="worker"),
    Endpoint("POST", "/safety/hazards/{hazard}/actions", "action", {"action": "start"}, owner="worker",
             forbidden="handler"),
    Endpoint("GET", "/safety/risk-rules/{subdistrict}", "detail", owner="leader"),
    Endpoint("PATCH", "/safety/risk-rules/{subdistrict}", "update", {"yellow_recent": 4}, owner="admin",
             forbidden="handler"),
    Endpoint("GET", "/safety/figures", "detail", {"node": "{grid}"}, owner="worker"),
    Endpoint("POST", "/safety/inspections/{inspection}/photos", "create", {"photos": "{upload}"}, owner="worker",
             forbidden="leader"),
    Endpoint("POST", "/safety/hazards/{hazard}/photos", "create", {"photos": "{upload}"}, owner="worker",
             forbidden="handler"),
    Endpoint("GET", "/safety/photos/{photo}", "export", owner="worker"),
    Endpoint("GET", "/safety/review", "detail", {"node": "{grid}"}, owner="worker"),
    Endpoint("GET", "/safety/review.docx", "detail", {"node": "{grid}"}, owner="worker"),
    Endpoint("GET", "/safety/review.xlsx", "detail", {"node": "{grid}"}, owner="worker"),
]
