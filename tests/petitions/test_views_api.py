"""Every page and endpoint answers its users, and out of scope is 404 (pages and API alike)."""

from django.urls import reverse

from jiedao.petitions import services

from .conftest import register

BASE = "/api/v1/petitions"
ID = "330225198001010018"


def _setup(world, staff):
    p = register(world, id_number=ID, phone="13812345678")
    q = register(world, id_number=ID)
    services.petition_act(actor=world.secretary, petition=p, action="accept")
    cand = q.candidates.get()
    services.candidate_decide(actor=staff, candidate=cand, confirm=True)
    q.refresh_from_db()
    plan = services.key_person_flag(actor=world.secretary, petitioner=p.petitioners.get(), reason="反复")
    return p, q, cand, plan


def test_pages_answer_and_show_masks_only(world, staff, client):
    p, q, _cand, plan = _setup(world, staff)
    client.force_login(world.secretary)
    for url in [reverse("petitions:index"), reverse("petitions:list"), reverse("petitions:new"),
                reverse("petitions:petition", args=[p.pk]), reverse("petitions:petitioners"),
                reverse("petitions:petitioner", args=[plan.petitioner_id]), reverse("petitions:key_persons"),
                reverse("petitions:campaign"), reverse("petitions:matter", args=[q.matter_id]),
                reverse("petitions:list") + f"?overdue=any&state=handling&channel=visit&community={world.community.pk}"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert ID not in response.content.decode() and "13812345678" not in response.content.decode()


def test_pages_out_of_scope_are_404_and_roles_without_rights_403(world, staff, client):
    p, q, cand, plan = _setup(world, staff)
    other = register(world, world.leader, node=world.village_grid, name="外村")
    client.force_login(world.secretary)
    for url in [reverse("petitions:petition", args=[other.pk]),
                reverse("petitions:petitioner", args=[other.petitioners.get().pk])]:
        assert client.get(url).status_code == 404, url
    client.force_login(world.worker)
    assert client.get(reverse("petitions:index")).status_code == 403
    for name, arg in [("petition", p.pk), ("matter", q.matter_id), ("petitioner", plan.petitioner_id)]:
        assert client.get(reverse(f"petitions:{name}", args=[arg])).status_code in (403, 404), name
    for name, arg in [("act", p.pk), ("to_case", p.pk), ("propose_joint", p.pk), ("candidate", cand.pk),
                      ("key_contact", plan.pk), ("key_end", plan.pk), ("petitioner_reveal", plan.petitioner_id)]:
        assert client.post(reverse(f"petitions:{name}", args=[arg]), {"action": "reply", "reason": "x"}
                           ).status_code in (403, 404), name
    client.force_login(world.secretary)
    response = client.post(reverse("petitions:act", args=[other.pk]), {"action": "accept"})
    assert response.status_code == 404


def test_page_workflow_and_form_errors(world, staff, client):
    client.force_login(world.secretary)
    response = client.post(reverse("petitions:new"), {"channel": "visit", "received_on": "2000-01-01",
                                                      "node": world.grid.pk, "category": "other", "content": "内容",
                                                      "name": "某人"})
    assert response.status_code == 400 and "收到日期" in response.content.decode()
    p = register(world)
    response = client.post(reverse("petitions:act", args=[p.pk]), {"action": "reject", "reason": ""})
    assert response.status_code == 400
    response = client.post(reverse("petitions:act", args=[p.pk]), {"action": "accept"})
    assert response.status_code == 302


def test_api(world, staff, as_):
    p, q, cand, plan = _setup(world, staff)
    api = as_(world.secretary)
    body = api.get("/petitions").json()
    assert body["count"] == 2
    detail = api.get(f"/petitions/{p.pk}").json()
    assert detail["petitioners"][0]["id_number_masked"] == "33***************8" and ID not in str(detail)
    assert "reply" in detail["allowed_actions"]
    r = api.post(f"/petitions/{p.pk}/actions", {"action": "reply", "reason": ""})
    assert r.status_code == 400 and r.json()["field"] == "reason"
    r = api.post("/petitions", {"node": world.grid.pk, "channel": "online", "received_on": "2026-01-01",
                                "category": "other", "content": "路灯坏了", "petitioners": [{"name": "甲"}]})
    assert r.status_code in (201, 400)
    assert api.get(f"/matters/{q.matter_id}").status_code == 200
    assert api.get("/figures", start="2026-01-01", end="2026-12-31").status_code == 200
    other = register(world, world.leader, node=world.village_grid, name="外村")
    assert api.get(f"/petitions/{other.pk}").status_code == 404
    assert api.post(f"/petitions/{other.pk}/actions", {"action": "accept"}).status_code == 404
    worker = as_(world.worker)
    assert worker.get("/petitions").json()["count"] == 0
    for url in (f"/petitions/{p.pk}", f"/matters/{q.matter_id}", f"/petitioners/{plan.petitioner_id}"):
        assert worker.get(url).status_code == 404, url
    assert worker.post(f"/candidates/{cand.pk}", {"confirm": False}).status_code == 404
    assert worker.post(f"/key-persons/{plan.pk}/contacts", {"contacted_on": "2026-01-01", "way": "走访", "note": "x",
                                                          "stability": "stable"}).status_code == 404


def test_key_flag_and_campaign_pages(world, staff, client):
    p = register(world, id_number=ID)
    person = p.petitioners.get()
    client.force_login(world.secretary)
    page = client.get(reverse("petitions:petitioner", args=[person.pk])).content.decode()
    assert "周干事" in page  # the community staff is offered as the responsible person
    response = client.post(reverse("petitions:key_flag", args=[person.pk]),
                           {"reason": "反复信访", "responsible": staff.pk, "interval_days": 14, "stability": "watch"})
    assert response.status_code == 302
    person.key_plan.refresh_from_db()
    assert person.key_plan.responsible == staff and person.key_plan.interval_days == 14
    other = register(world, world.leader, node=world.village_grid, name="外村", title="村务", content="村务不公开")
    again = register(world, world.leader, node=world.village_grid, name="外村", title="村务", content="村务还是不公开")
    services.candidate_decide(actor=world.leader, candidate=again.candidates.get(earlier=other), confirm=True)
    again.refresh_from_db()
    assert client.get(reverse("petitions:matter", args=[again.matter_id])).status_code == 404
    assert client.post(reverse("petitions:matter_post", args=[again.matter_id, "note"]), {"text": "x"}).status_code == 404
    client.force_login(world.leader)
    assert client.get(reverse("petitions:matter", args=[again.matter_id])).status_code == 200
    response = client.post(reverse("petitions:matter_post", args=[again.matter_id, "diagnose"]),
                           {"causes": "", "responsible_unit": "x", "basis": "y", "wants": "z"})
    assert response.status_code == 400 and "问题成因" in response.content.decode()
