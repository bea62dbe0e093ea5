"""The scope table of /api/v1/welfare/visits and /api/v1/welfare/veterans (joined into
tests/welfare/scope_table.py, checked by tests/test_api_scope.py).

The objects live in 东门第一网格 (tests/welfare/visits/conftest.py): 陈阿婆 (独居老人 + 残疾人) with a
visit that raised a need, 林老兵 with a veteran record, a check, a request and a card application.
The outsiders are the grid workers of 东门第二网格 and 横塘第一网格. Everyone who sees a resident's
welfare records (welfare.view) may also record visits, checks, requests and applications
(welfare.record: grid workers, community staff, leaders): those writes have no 403 case.
"""

from datetime import date

from tests.scope import Endpoint

TODAY = date.today().isoformat()
RECORDERS = "everyone who sees a resident's welfare records (welfare.view) also records them (welfare.record)"


def build(world) -> dict:
    from django.utils import timezone

    from jiedao.welfare.visits import services
    from tests.welfare.visits.conftest import make_visits

    v = make_visits(world)
    today = timezone.localdate()
    visit = services.visit_record(actor=world.worker, resident=v.alice, visited_on=today, findings="身体良好",
                                  needs="需要助餐")
    services.veteran_check(actor=world.worker, veteran=v.dan_veteran, checked_on=today)
    request = services.request_create(actor=world.worker, veteran=v.dan_veteran, kind="help", content="住院困难")
    card = services.card_apply(actor=world.worker, veteran=v.dan_veteran)
    tag = v.alice.tags.get(group__code="alone_elderly")
    return {"alice": v.alice.pk, "visit": visit.pk, "veteran": v.dan_veteran.pk, "request": request.pk,
            "card": card.pk, "tag": tag.pk, "group_code": "disabled"}


ENDPOINTS = [
    Endpoint("GET", "/welfare/visits/due", "list", {"node": "{grid}"}, owner="worker", listed="tag"),
    Endpoint("GET", "/welfare/visits/due/summary", "detail", {"node": "{grid}"}, owner="worker"),
    Endpoint("GET", "/welfare/visits", "list", {"resident": "{alice}"}, owner="worker", listed="visit"),
    Endpoint("POST", "/welfare/visits", "create", {"resident": "{alice}", "visited_on": TODAY, "findings": "走访"},
             owner="worker", why_no_403=RECORDERS),
    Endpoint("GET", "/welfare/visits/figures", "detail", {"node": "{grid}"}, owner="worker"),
    Endpoint("GET", "/welfare/visits/{visit}", "detail", owner="worker"),
    Endpoint("POST", "/welfare/visits/{visit}/case", "action", owner="worker", why_no_403=RECORDERS),
    Endpoint("GET", "/welfare/veterans", "list", {"node": "{grid}"}, owner="worker", listed="veteran"),
    Endpoint("POST", "/welfare/veterans", "create", {"resident": "{alice}"}, owner="worker", why_no_403=RECORDERS),
    Endpoint("GET", "/welfare/veterans/workflow", "reference", why="the two transition tables, the same for everyone"),
    Endpoint("GET", "/welfare/veterans/requests", "list", {"veteran": "{veteran}"}, owner="worker",
             listed="request"),
    Endpoint("POST", "/welfare/veterans/requests", "create", {"veteran": "{veteran}", "kind": "help",
                                                             "content": "求助"}, owner="worker",
             why_no_403=RECORDERS),
    Endpoint("GET", "/welfare/veterans/requests/{request}", "detail", owner="worker"),
    Endpoint("POST", "/welfare/veterans/requests/{request}/actions", "action", {"action": "start"},
             owner="secretary", forbidden="worker"),
    Endpoint("GET", "/welfare/veterans/cards", "list", {"veteran": "{veteran}"}, owner="worker", listed="card"),
    Endpoint("POST", "/welfare/veterans/cards", "create", {"veteran": "{veteran}"}, owner="worker",
             why_no_403=RECORDERS),
    Endpoint("GET", "/welfare/veterans/cards/{card}", "detail", owner="worker"),
    Endpoint("POST", "/welfare/veterans/cards/{card}/actions", "action", {"action": "approve"}, owner="secretary",
             forbidden="worker"),
    Endpoint("GET", "/welfare/veterans/{veteran}", "detail", owner="worker"),
    Endpoint("PATCH", "/welfare/veterans/{veteran}", "update", {"filed": True}, owner="worker",
             why_no_403=RECORDERS),
    Endpoint("GET", "/welfare/veterans/{veteran}/checks", "list", owner="worker"),
    Endpoint("POST", "/welfare/veterans/{veteran}/checks", "create", {"checked_on": TODAY}, owner="worker",
             why_no_403=RECORDERS),
    # people's route, listed here because the visit schedules are what it is for
    Endpoint("PUT", "/people/special-groups/{group_code}/visit-interval", "reference", {"visit_interval_days": 10},
             owner="admin", forbidden="secretary", why="the special-group catalogue, kept by the system administrator"),
]
