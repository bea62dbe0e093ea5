"""Issue 17 review fixes of visits and the veterans' service: 诉求办结 counted among the requests
received in the period (one population), dates outside 2000–2100 refused with a Chinese message
naming the field (400, never 500), no visit for a resident no longer in the register, and any
resident in scope filed as an 优抚对象 from the page (a name search, masked results)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jiedao.core.errors import DomainError
from jiedao.people import services as people_services
from jiedao.people.models import Resident
from jiedao.welfare.models.visits import ServiceRequest, Veteran, Visit
from jiedao.welfare.visits import selectors, services

BASE = "/api/v1/welfare"


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client
    return as_user


def test_requests_done_counts_among_the_requests_received_in_the_period(world, v):
    today = timezone.localdate()
    old = services.request_create(actor=world.worker, veteran=v.dan_veteran, kind="help", content="去年的求助",
                                  received_on=today - timedelta(days=40))
    for action in ("start", "finish"):
        services.request_act(actor=world.secretary, request=old, action=action, reason="已解决")
    f = selectors.figures(world.worker, None, today - timedelta(days=10), today)
    assert (f.requests, f.requests_done) == (0, 0)  # finished in the period, but received before it
    new = services.request_create(actor=world.worker, veteran=v.dan_veteran, kind="help", content="新的求助",
                                  received_on=today - timedelta(days=2))
    services.request_act(actor=world.secretary, request=new, action="finish", reason="已解决")
    f = selectors.figures(world.worker, None, today - timedelta(days=10), today)
    assert (f.requests, f.requests_done) == (1, 1)
    f = selectors.figures(world.worker, None, today - timedelta(days=60), today - timedelta(days=1))
    assert (f.requests, f.requests_done) == (2, 0)  # received in the period, both finished after it
    rows = {str(label): value for label, value, _url in selectors.panel_figures(world.worker, None,
                                                                                 today - timedelta(days=60), today)}
    assert rows["诉求办结"] == "2 / 2"


@pytest.mark.parametrize("params, field", [
    ({"start": "9999-12-01", "end": "9999-12-31"}, "start"),
    ({"start": "2026-01-01", "end": "9999-12-31"}, "end"),
    ({"start": "1900-01-01", "end": "2026-01-01"}, "start"),
])
def test_figures_outside_2000_to_2100_are_refused_by_field(world, v, as_, params, field):
    r = as_(world.worker).get("/visits/figures", **params)
    assert r.status_code == 400 and r.json()["field"] == field and "2000" in r.json()["detail"]


def test_visit_list_dates_outside_2000_to_2100_are_refused(world, v, as_):
    api = as_(world.worker)
    for params, field in (({"start": "9999-12-31"}, "start"), ({"end": "1000-01-01"}, "end")):
        r = api.get("/visits", **params)
        assert r.status_code == 400 and r.json()["field"] == field
    assert api.get("/visits", start="2026-01-01", end="2026-12-31").status_code == 200


def test_the_selector_does_not_overflow_on_the_last_day(world, v):
    f = selectors.figures(world.worker, None, timezone.localdate(), timezone.localdate().max)
    assert f.requests == 0


def test_written_dates_far_off_are_refused_not_500(world, v, as_):
    api = as_(world.worker)
    for path, body, field in (
            ("/visits", {"resident": v.alice.pk, "visited_on": "9999-12-31", "findings": "x"}, "visited_on"),
            (f"/veterans/{v.dan_veteran.pk}/checks", {"checked_on": "0001-01-01"}, "checked_on"),
            ("/veterans/requests", {"veteran": v.dan_veteran.pk, "kind": "help", "content": "x",
                                    "received_on": "9999-12-31"}, "received_on"),
            ("/veterans/cards", {"veteran": v.dan_veteran.pk, "applied_on": "0001-01-01"}, "applied_on")):
        r = api.post(path, body)
        assert r.status_code == 400 and r.json()["field"] == field, (path, r.status_code)


def _retire(resident):
    Resident.objects.filter(pk=resident.pk).update(is_active=False)
    resident.refresh_from_db()


def test_no_visit_for_a_resident_no_longer_in_the_register(world, v, login, as_):
    _retire(v.alice)
    with pytest.raises(DomainError) as exc:
        services.visit_record(actor=world.worker, resident=v.alice, visited_on=timezone.localdate(), findings="x")
    assert exc.value.field == "resident" and "不在册" in str(exc.value)
    r = as_(world.worker).post("/visits", {"resident": v.alice.pk, "visited_on": timezone.localdate().isoformat(),
                                           "findings": "x"})
    assert r.status_code in (400, 404) and r.json()["field"] == "resident"
    c = login(world.worker)
    url = f"/welfare/visits/residents/{v.alice.pk}/"
    r = c.post(url, {"visited_on": timezone.localdate().isoformat(), "mode": "home", "findings": "看望"})
    assert r.status_code in (400, 404)
    assert not Visit.objects.exists()


def test_any_resident_in_scope_can_be_filed_from_the_page_by_name(world, v, login):
    widow = people_services.resident_create(actor=world.admin, node=world.building, name="林阿姨",
                                            phone="13800005678")
    elsewhere = people_services.resident_create(actor=world.admin, node=world.other_grid, name="林大叔")
    c = login(world.worker)
    page = c.get("/welfare/veterans/new/", {"q": "林"}).content.decode()
    assert "林阿姨" in page and widow.phone_masked in page and "13800005678" not in page
    assert "林大叔" not in page  # not in the worker's grid
    assert "林老兵" not in page or f'value="{v.dan.pk}"' not in page  # already filed
    r = c.post("/welfare/veterans/new/?q=林", {"resident": widow.pk, "category": "martyr_family"})
    assert r.status_code == 302
    assert Veteran.objects.get(resident=widow).category == "martyr_family"
    r = c.post("/welfare/veterans/new/?q=林", {"resident": elsewhere.pk, "category": "martyr_family"})
    assert r.status_code in (400, 404) and not Veteran.objects.filter(resident=elsewhere).exists()
    assert not ServiceRequest.objects.exists()
