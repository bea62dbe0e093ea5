"""/api/v1/welfare/monitoring: a lead through its steps, a visit, and 404 out of scope for every endpoint."""

from datetime import timedelta

from django.utils import timezone

from jiedao.welfare.models.monitoring import MonitoredHousehold

from .conftest import backdate_deliberation, lead, to_monitored

BASE = "/api/v1/welfare/monitoring"


def test_a_lead_through_the_api(world, mon, as_):
    today = timezone.localdate()
    worker = as_(world.worker)
    r = worker.post("/households", {"household": mon.home.pk, "kind": "marginal", "risk_types": ["illness"],
                                    "lead_source": "self_report"})
    assert r.status_code == 201, r.json()
    pk = r.json()["id"]
    assert r.json()["members"] == 2 and [a["action"] for a in r.json()["allowed_actions"]] == ["verify"]
    r = worker.post(f"/households/{pk}/actions", {"action": "verify"})
    assert r.status_code == 400 and r.json()["field"] == "consent_on"
    assert worker.post(f"/households/{pk}/actions", {"action": "verify", "consent_on": str(today)}).status_code == 200
    secretary = as_(world.secretary)
    assert worker.post(f"/households/{pk}/actions", {"action": "deliberate", "reason": "x"}).status_code == 403
    assert secretary.post(f"/households/{pk}/actions", {"action": "deliberate", "reason": "通过"}).status_code == 200
    r = secretary.post(f"/households/{pk}/actions", {"action": "publish", "notice_from": str(today - timedelta(days=6))})
    assert r.status_code == 400 and r.json()["field"] == "notice_from"
    backdate_deliberation(MonitoredHousehold.objects.get(pk=pk))
    r = secretary.post(f"/households/{pk}/actions", {"action": "publish", "notice_from": str(today - timedelta(days=6)),
                                                     "notice_to": str(today - timedelta(days=1))})
    assert r.status_code == 200
    r = secretary.post(f"/households/{pk}/actions", {"action": "approve"})
    assert r.status_code == 200 and r.json()["state"] == "monitored"
    r = worker.post(f"/households/{pk}/visits", {"note": "走访", "risks_added": ["schooling"], "income_per_head": 6000,
                                                 "new_measure": {"category": "education", "content": "教育资助",
                                                                 "owner": "村委会", "due_on": str(today)}})
    assert r.status_code == 201, r.json()
    assert worker.get(f"/households/{pk}/visits").json()["count"] == 1
    changes = worker.get(f"/households/{pk}/changes").json()
    assert {c["field"] for c in changes["items"]} == {"risk_types", "income_per_head"}
    assert worker.get("/mine").json()["done"][0]["id"] == pk
    f = as_(world.leader).get("/figures", start=str(today.replace(month=1, day=1)), end=str(today)).json()
    assert f["households"] == 1 and f["people"] == 2 and f["included"] == 1
    assert worker.get("/households", state="monitored_all", risk="schooling").json()["count"] == 1
    assert worker.get("/households", state="nope").status_code == 400
    assert len(worker.get("/workflow").json()) == 10
    assert worker.post("/households", {"household": mon.home.pk, "kind": "marginal", "risk_types": ["illness"],
                                       "lead_source": "self_report"}).status_code == 409


def test_every_endpoint_answers_404_out_of_scope(world, mon, as_):
    m = to_monitored(world, lead(world, mon.home, actor=world.worker))
    measure = m.measures.create(category="medical", content="大病救助", owner="村委会", due_on=timezone.localdate())
    other = as_(world.other_worker)
    assert other.get(f"/households/{m.pk}").status_code == 404
    assert other.get(f"/households/{m.pk}/visits").status_code == 404
    assert other.get(f"/households/{m.pk}/changes").status_code == 404
    assert other.post(f"/households/{m.pk}/actions", {"action": "exit_refuse", "reason": "x"}).status_code == 404
    assert other.post(f"/households/{m.pk}/adjust", {"reason": "x", "income_per_head": 1}).status_code == 404
    assert other.post(f"/households/{m.pk}/measures", {"category": "medical", "content": "x", "owner": "y",
                                                       "due_on": "2026-01-01"}).status_code == 404
    assert other.patch(f"/measures/{measure.pk}", {"status": "done"}).status_code == 404
    assert other.post(f"/households/{m.pk}/visits", {"note": "x"}).status_code == 404
    r = other.post("/households", {"household": mon.home.pk, "kind": "marginal", "risk_types": ["illness"],
                                   "lead_source": "self_report"})
    assert r.status_code == 404 and r.json()["field"] == "household"
    assert other.get("/households").json()["count"] == 0
    assert other.get("/overdue").json()["count"] == 0
    assert other.get("/mine").json()["this_week"] == []
    today = timezone.localdate()
    assert other.get("/figures", start=str(today.replace(month=1, day=1)), end=str(today)).json()["households"] == 0
    assert other.put("/lines", {"subdistrict": world.subdistrict.pk, "year": 2027, "amount": 8000}).status_code == 404
    assert as_(world.leader).put("/lines", {"subdistrict": world.subdistrict.pk, "year": 2027,
                                            "amount": 8000}).status_code == 200
    assert as_(world.worker).get("/lines").json() == []  # the sub-district's lines are above a grid
