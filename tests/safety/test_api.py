"""/api/v1/safety through the API client, as the named users."""

from django.utils import timezone

from jiedao.safety.models import Hazard

BASE = "/api/v1/safety"


def test_plan_inspect_rectify_through_the_api(world, safety, as_):
    today = timezone.localdate().isoformat()
    secretary, worker = as_(world.secretary), as_(world.worker)
    r = secretary.post("/campaigns", {"node": world.community.pk, "title": "消防专项整治", "kind": "special",
                                      "field": "fire", "starts_on": today, "ends_on": today,
                                      "owners": [world.secretary.pk], "rule": {"nodes": [world.grid.pk]}})
    assert r.status_code == 201, r.content
    campaign = r.json()
    assert campaign["coverage"] == {"label": "", "target": 3, "visited": 0, "behind": 3, "hazards": 0}
    assert campaign["owners"] == ["王书记"]
    templates = worker.get("/templates").json()["items"]
    assert [t["name"] for t in templates] == ["消防安全检查表"]
    major = next(i for i in templates[0]["items"] if i["severity"] == "major")
    r = worker.post("/inspections", {"business": safety.diner.pk, "inspected_on": today, "campaign": campaign["id"],
                                     "template": templates[0]["id"], "answers": {str(major["id"]): "fail"},
                                     "contact_name": "陈老板", "contact_confirmed": True})
    assert r.status_code == 201, r.content
    assert r.json()["hazard_count"] == 1
    detail = worker.get(f"/campaigns/{campaign['id']}").json()
    assert (detail["coverage"]["visited"], detail["by_inspector"][0]["label"]) == (1, "张网格")
    hazards = worker.get("/hazards", business=safety.diner.pk, state="open").json()["items"]
    assert len(hazards) == 1 and hazards[0]["severity"] == "major"
    hid = hazards[0]["id"]
    hazard = worker.get(f"/hazards/{hid}").json()
    assert [a["action"] for a in hazard["allowed_actions"]] == ["start", "submit"]
    r = worker.post(f"/hazards/{hid}/actions", {"action": "submit", "reason": "已清理疏散通道"})
    assert r.status_code == 200 and r.json()["state"] == "awaiting"
    assert [a["action"] for a in r.json()["allowed_actions"]] == ["reinspect_fail"]  # major: not the worker's pass
    r = secretary.post(f"/hazards/{hid}/actions", {"action": "reinspect_pass"})
    assert r.json()["state"] == "closed"
    profile = worker.get(f"/businesses/{safety.diner.pk}").json()
    assert profile["risk_colour"] == "green"  # closed; one hazard this year is under the 3 that make yellow
    figures = as_(world.leader).get("/figures").json()
    assert (figures["base"], figures["visited"], figures["hazards"], figures["major"], figures["rectified"]) == \
        (5, 1, 1, 1, 1)
    assert figures["rectification_rate"] == 1.0 and figures["on_time_rate"] == 1.0
    assert sum(figures["colours"].values()) == figures["base"]
    in_grid = as_(world.leader).get("/figures", node=world.grid.pk).json()
    assert sum(in_grid["colours"].values()) == in_grid["base"] < figures["base"]  # the colours follow the node


def test_bad_input_names_the_field_and_changes_nothing(world, safety, as_):
    worker = as_(world.worker)
    r = worker.post("/inspections", {"business": safety.diner.pk, "inspected_on": "2099-01-01"})
    assert r.status_code == 400 and r.json()["field"] == "inspected_on"
    r = worker.post("/inspections", {"business": safety.diner.pk, "inspected_on": "2026-01-05",
                                     "findings": [{"description": "", "severity": "major"}]})
    assert r.status_code == 400 and r.json()["field"] == "findings[1].description"
    r = worker.post("/inspections", {"business": safety.shop.pk, "inspected_on": "2026-01-05"})
    assert r.status_code == 404 and r.json()["field"] == "business"
    r = worker.get("/figures", start="2026-05-01", end="2026-04-01")
    assert r.status_code == 400 and r.json()["field"] == "end"
    r = as_(world.admin).patch(f"/risk-rules/{world.subdistrict.pk}", {"recent_days": 0})
    assert r.status_code == 400 and r.json()["field"] == "recent_days"
    assert not Hazard.objects.exists()


def test_risk_rule_edit_recolours_and_logs(world, safety, as_, django_capture_on_commit_callbacks):
    admin = as_(world.admin)
    with django_capture_on_commit_callbacks(execute=True):  # the queued recompute, run as after a commit
        r = admin.patch(f"/risk-rules/{world.subdistrict.pk}", {"high_risk_industries": ["零售"]})
    assert r.status_code == 200 and r.json()["recomputing"] is True  # answered before the job ran
    assert admin.get(f"/risk-rules/{world.subdistrict.pk}").json()["high_risk_industries"] == ["零售"]
    profile = admin.get(f"/businesses/{safety.shop.pk}").json()
    assert profile["risk_colour"] == "yellow" and "高风险行业：零售" in profile["risk_changes"][0]["reason"]
    assert admin.get("/workflow").status_code == 200
