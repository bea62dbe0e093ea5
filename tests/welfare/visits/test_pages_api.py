"""The visit and veterans' pages and API with the named users: they render and act, keep input on
errors, and answer 404 out of scope for every page and endpoint."""

import pytest
from django.utils import timezone

from jiedao.welfare.models.visits import CardApplication, ServiceRequest, Visit
from jiedao.welfare.visits import services

BASE = "/api/v1/welfare"


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client
    return as_user


@pytest.fixture
def objs(world, v):
    visit = services.visit_record(actor=world.worker, resident=v.alice, visited_on=timezone.localdate(),
                                  findings="身体良好", needs="需要助餐")
    req = services.request_create(actor=world.worker, veteran=v.dan_veteran, kind="help", content="住院困难")
    card = services.card_apply(actor=world.worker, veteran=v.dan_veteran)
    return {"visit": visit, "request": req, "card": card}


def object_pages(v, o):
    return [f"/welfare/visits/residents/{v.alice.pk}/", f"/welfare/visits/records/{o['visit'].pk}/",
            f"/welfare/veterans/{v.dan_veteran.pk}/", f"/welfare/veterans/requests/{o['request'].pk}/",
            f"/welfare/veterans/cards/{o['card'].pk}/"]


LIST_PAGES = ["/welfare/", "/welfare/visits/", "/welfare/visits/mine/", "/welfare/visits/records/",
              "/welfare/veterans/", "/welfare/veterans/new/", "/welfare/veterans/requests/",
              "/welfare/veterans/cards/", "/welfare/visits/?bucket=overdue&q=陈", "/welfare/veterans/cards/?year=2025"]


def test_every_page_renders_for_the_grid_worker_and_the_secretary(world, v, objs, login):
    for user in (world.worker, world.secretary, world.leader):
        c = login(user)
        for url in LIST_PAGES + object_pages(v, objs):
            r = c.get(url)
            assert r.status_code == 200, (user.username, url)
    body = login(world.worker).get("/welfare/visits/mine/?bucket=all").content.decode()
    assert "陈阿婆" in body and "吴奶奶" not in body and "13800001234" not in body


def test_out_of_scope_pages_are_404_and_lists_leave_them_out(world, v, objs, login):
    c = login(world.other_worker)
    for url in object_pages(v, objs):
        assert c.get(url).status_code == 404, url
    assert c.post(f"/welfare/visits/records/{objs['visit'].pk}/case/").status_code == 404
    assert c.post(f"/welfare/visits/residents/{v.alice.pk}/", {"visited_on": "2026-01-01"}).status_code == 404
    today = timezone.localdate().isoformat()
    for form in ({"form": "check", "checked_on": today}, {"form": "apply", "applied_on": today},
                 {"form": "request", "kind": "help", "content": "x", "received_on": today},
                 {"form": "edit", "category": "veteran"}):
        assert c.post(f"/welfare/veterans/{v.dan_veteran.pk}/", form).status_code == 404, form
    assert c.post(f"/welfare/veterans/requests/{objs['request'].pk}/", {"action": "start"}).status_code == 404
    assert c.post(f"/welfare/veterans/cards/{objs['card'].pk}/", {"action": "approve"}).status_code == 404
    assert c.post("/welfare/veterans/new/", {"resident": v.dan.pk, "category": "veteran"}).status_code == 400
    assert ServiceRequest.objects.get().state == "registered" and CardApplication.objects.get().state == "applied"
    assert Visit.objects.count() == 1 and not v.dan_veteran.checks.exists()
    for url in ("/welfare/visits/", "/welfare/visits/records/", "/welfare/veterans/", "/welfare/veterans/requests/",
                "/welfare/veterans/cards/"):
        body = c.get(url).content.decode()
        assert "陈阿婆" not in body and "林老兵" not in body, url
    login(world.handler)
    assert c.get("/welfare/visits/").status_code == 403


def test_visit_form_records_and_keeps_values_on_error(world, v, login):
    c = login(world.worker)
    url = f"/welfare/visits/residents/{v.alice.pk}/"
    r = c.post(url, {"visited_on": "2000-01-01", "mode": "home", "findings": "看望"})
    assert r.status_code == 400 and "不能早于一年前" in r.content.decode() and "看望" in r.content.decode()
    r = c.post(url, {"visited_on": timezone.localdate().isoformat(), "mode": "phone", "findings": "电话问候",
                     "needs": "楼道灯坏了"})
    visit = Visit.objects.get()
    assert r.status_code == 302 and visit.mode == "phone"
    r = c.post(f"/welfare/visits/records/{visit.pk}/case/")
    assert r.status_code == 302 and Visit.objects.get().case_id


def test_workflow_from_the_pages(world, v, objs, login):
    c = login(world.worker)
    url = f"/welfare/veterans/requests/{objs['request'].pk}/"
    assert "开始办理" not in c.get(url).content.decode()  # a grid worker registers, does not handle
    assert c.post(url, {"action": "start"}).status_code == 403
    c = login(world.secretary)
    assert c.post(url, {"action": "start"}).status_code == 302
    r = c.post(url, {"action": "finish", "reason": ""})
    assert r.status_code == 400 and "请填写办结的说明" in r.content.decode()
    assert c.post(url, {"action": "finish", "reason": "已解决"}).status_code == 302
    assert ServiceRequest.objects.get().state == "done"
    curl = f"/welfare/veterans/cards/{objs['card'].pk}/"
    c.post(curl, {"action": "approve"})
    r = c.post(curl, {"action": "make", "card_number": ""})
    assert r.status_code == 400
    c.post(curl, {"action": "make", "card_number": "ZJ77"})
    c.post(curl, {"action": "issue"})
    assert CardApplication.objects.get().state == "issued"


def test_veteran_page_forms(world, v, login):
    c = login(world.worker)
    url = f"/welfare/veterans/{v.dan_veteran.pk}/"
    assert c.post(url, {"form": "check", "checked_on": timezone.localdate().isoformat(), "filed": "on"}).status_code == 302
    r = c.post(url, {"form": "edit", "category": "veteran", "enlisted_year": "1990", "discharged_year": "1980"})
    assert r.status_code == 400 and "退役年份不能早于入伍年份" in r.content.decode()
    assert c.post(url, {"form": "request", "kind": "claim", "content": "咨询",
                        "received_on": timezone.localdate().isoformat()}).status_code == 302
    assert c.post(url, {"form": "apply", "applied_on": timezone.localdate().isoformat()}).status_code == 302
    v.dan_veteran.refresh_from_db()
    assert v.dan_veteran.filed and v.dan_veteran.checks.count() == 1


def test_api_reads_and_writes(world, v, objs, as_):
    api = as_(world.worker)
    r = api.get("/visits/due", bucket="never")
    assert r.status_code == 200 and {i["name"] for i in r.json()["items"]} == {"林老兵"}  # the visit counted for all of her groups
    assert api.get("/visits/due", bucket="nonsense").status_code == 400
    r = api.post("/visits", {"resident": v.alice.pk, "visited_on": timezone.localdate().isoformat(),
                             "findings": "好", "mode": "video"})
    assert r.status_code == 201 and r.json()["mode"] == "video"
    r = api.post("/visits", {"resident": v.alice.pk, "visited_on": timezone.localdate().isoformat(), "findings": ""})
    assert r.status_code == 400 and r.json()["field"] == "findings"
    assert api.get("/visits/due/summary").json()["total"]["total"] == 3
    assert api.get("/visits/figures").status_code == 200
    assert api.get("/veterans/workflow").status_code == 200
    r = api.post(f"/visits/{objs['visit'].pk}/case")
    assert r.status_code == 200 and r.json()["case_ticket"]
    r = api.post(f"/veterans/{v.dan_veteran.pk}/checks", {"checked_on": timezone.localdate().isoformat()})
    assert r.status_code == 201
    assert api.patch(f"/veterans/{v.dan_veteran.pk}", {"filed": True}).json()["filed"] is True
    assert api.post(f"/veterans/requests/{objs['request'].pk}/actions", {"action": "start"}).status_code == 403
    boss = as_(world.secretary)
    r = boss.post(f"/veterans/requests/{objs['request'].pk}/actions", {"action": "start"})
    assert r.status_code == 200 and r.json()["state"] == "in_progress"
    r = boss.post(f"/veterans/cards/{objs['card'].pk}/actions", {"action": "approve"})
    assert r.status_code == 200 and r.json()["actions"][0]["action"] == "make"


def test_api_out_of_scope_is_404_for_every_endpoint(world, v, objs, as_):
    api = as_(world.other_worker)
    vis, req, card, vet = objs["visit"].pk, objs["request"].pk, objs["card"].pk, v.dan_veteran.pk
    for path in (f"/visits/{vis}", f"/veterans/{vet}", f"/veterans/{vet}/checks", f"/veterans/requests/{req}",
                 f"/veterans/cards/{card}"):
        assert api.get(path).status_code == 404, path
    for path, params in (("/visits", {"resident": v.alice.pk}), ("/veterans/requests", {"veteran": vet}),
                         ("/veterans/cards", {"veteran": vet}), ("/visits/due", {"node": world.grid.pk})):
        r = api.get(path, **params)
        assert r.status_code == 404, path
    today = timezone.localdate().isoformat()
    for path, body in ((f"/visits/{vis}/case", {}), (f"/veterans/{vet}/checks", {"checked_on": today}),
                       (f"/veterans/requests/{req}/actions", {"action": "start"}),
                       (f"/veterans/cards/{card}/actions", {"action": "approve"}),
                       ("/visits", {"resident": v.alice.pk, "visited_on": today, "findings": "x"}),
                       ("/veterans", {"resident": v.dan.pk}),
                       ("/veterans/requests", {"veteran": vet, "kind": "help", "content": "x"}),
                       ("/veterans/cards", {"veteran": vet})):
        r = api.post(path, body)
        assert r.status_code == 404, (path, r.status_code)
    assert api.patch(f"/veterans/{vet}", {"filed": True}).status_code == 404
    for path in ("/visits", "/visits/due", "/veterans", "/veterans/requests", "/veterans/cards"):
        names = str(api.get(path).json())
        assert "陈阿婆" not in names and "林老兵" not in names, path


def test_editing_an_interval_on_the_people_page_moves_the_due_list(world, v, login, as_):
    from jiedao.people.models import SpecialGroup

    group = SpecialGroup.objects.get(code="disabled")
    c = login(world.admin)
    assert "陈阿婆" not in c.get(f"/welfare/visits/?bucket=overdue&group={group.pk}").content.decode()
    assert c.post("/special-groups/", {"interval_of": group.pk, "visit_interval_days": "10"}).status_code == 302
    assert "陈阿婆" in c.get(f"/welfare/visits/?bucket=overdue&group={group.pk}").content.decode()
    assert c.post("/special-groups/", {"interval_of": group.pk, "visit_interval_days": "0"}).status_code == 400
    login(world.worker)
    assert c.post("/special-groups/", {"interval_of": group.pk, "visit_interval_days": "5"}).status_code == 403
    r = as_(world.admin).client.put("/api/v1/people/special-groups/disabled/visit-interval",
                                    '{"visit_interval_days": null}', content_type="application/json",
                                    **as_(world.admin).headers)
    assert r.status_code == 200 and r.json()["visit_interval_days"] is None
    assert SpecialGroup.objects.get(pk=group.pk).visit_interval_days is None


def test_a_visit_sent_again_is_recorded_once(world, v, login, as_):
    c = login(world.worker)
    url = f"/welfare/visits/residents/{v.alice.pk}/"
    form = {"visited_on": timezone.localdate().isoformat(), "mode": "home", "findings": "看望", "submission": "a1b2c3d4e5"}
    first, again = c.post(url, form), c.post(url, form)
    assert first.status_code == again.status_code == 302 and first["Location"] == again["Location"]
    assert Visit.objects.count() == 1
    r = as_(world.worker).post("/visits", {"resident": v.alice.pk, **{
        k: form[k] for k in ("visited_on", "findings", "submission")}})
    assert r.status_code == 201 and Visit.objects.count() == 1
    r = as_(world.worker).post("/visits", {"resident": v.dan.pk, **{k: form[k] for k in ("visited_on", "findings",
                                                                                        "submission")}})
    assert r.status_code == 400 and r.json()["field"] == "submission"
