"""/api/v1/welfare/benefits through the API client, as the named users: the whole round, bad input
naming the field, and a 404 for every scoped endpoint out of scope."""

from datetime import date

import pytest

from jiedao.welfare.benefits import services
from jiedao.welfare.models.benefits import Grant, GrantState, Payment

from .conftest import ident

pytestmark = pytest.mark.django_db
BASE = "/api/v1/welfare/benefits"


def test_grant_pay_review_and_totals_through_the_api(world, ben, as_):
    sec = as_(world.secretary)
    r = sec.post("/grants", {"programme": ben.urban.pk, "resident": ben.zhang.pk, "starts_on": "2026-01-01",
                             "amount": "400.00", "persons": 2})
    assert r.status_code == 201, r.content
    grant = r.json()
    assert grant["id_number_masked"] == ben.zhang.id_number_masked and ident(1) not in r.content.decode()
    assert grant["next_review_on"] == "2027-01-01" and "suspend" in grant["actions"]
    for month in ("2026-01-01", "2026-02-15", "2026-03-01"):
        assert sec.post(f"/grants/{grant['id']}/payments", {"month": month}).status_code == 201
    r = sec.post(f"/grants/{grant['id']}/actions", {"action": "review", "next_review_on": "2027-06-30"})
    assert r.status_code == 200 and r.json()["next_review_on"] == "2027-06-30"
    r = sec.patch(f"/grants/{grant['id']}", {"persons": 3})
    assert r.status_code == 200 and r.json()["persons"] == 3
    assert len(sec.get("/payments", grant=grant["id"]).json()["items"]) == 3
    rows = as_(world.leader).get("/totals", start="2026-01-01", end="2026-12-31", granularity="year").json()
    total = next(r for r in rows if r["programme_name"] == "城市低保" and r["community_id"] is None)
    assert (total["person_times"], total["amount"], total["per_capita"]) == (6, "1200.00", "200.00")
    assert total["headline"].startswith("6人次，人均补差200元")
    assert [p["name"] for p in sec.get("/programmes").json()["items"]][:2] == ["城市低保", "农村低保"]
    assert sec.get("/workflow").status_code == 200
    assert sec.get("/reviews-due", within=30).json()["count"] == 0
    assert sec.get("/reviews-due", within=366).json()["count"] == 1


def test_bad_input_names_the_field(world, ben, as_):
    sec = as_(world.secretary)
    r = sec.post("/grants", {"programme": ben.urban.pk, "resident": ben.zhang.pk, "starts_on": "2026-01-01",
                             "amount": "1.234"})
    assert r.status_code == 400 and r.json()["field"] == "amount"
    r = sec.post("/grants", {"programme": ben.urban.pk, "resident": ben.zhang.pk, "starts_on": "2026-01-01",
                             "persons": 0, "amount": "1"})
    assert r.status_code == 400 and r.json()["field"] == "persons"
    r = sec.post("/grants", {"programme": 999, "resident": ben.zhang.pk, "starts_on": "2026-01-01"})
    assert r.status_code == 404 and r.json()["field"] == "programme"
    r = sec.post("/grants", {"programme": ben.urban.pk, "resident": ben.zhang.pk, "starts_on": "2026-01-01",
                             "colour": "red"})
    assert r.status_code == 422
    assert not Grant.objects.exists()
    r = as_(world.worker).post("/programmes", {"code": "x", "name": "新项目"})
    assert r.status_code == 403  # grid workers hold VIEW/RECORD only: the catalogue is the managers'
    r = as_(world.leader).post("/programmes", {"code": "canbu", "name": "残疾人两项补贴", "review_months": 0})
    assert r.status_code == 201 and r.json()["review_months"] is None
    r = as_(world.leader).patch(f"/programmes/{r.json()['id']}", {"name": "城市低保"})
    assert r.status_code == 400 and r.json()["field"] == "name"


def test_every_scoped_endpoint_is_404_out_of_scope(world, ben, as_):
    grant = services.grant_create(actor=world.secretary, programme=ben.urban, resident=ben.zhang,
                                  starts_on=date(2026, 1, 1), amount="400", persons=2)
    services.payment_record(actor=world.secretary, grant=grant, month=date(2026, 1, 1))
    for user in (world.village_worker, world.other_worker, world.handler):
        c = as_(user)
        assert c.get(f"/grants/{grant.pk}").status_code == 404
        assert c.patch(f"/grants/{grant.pk}", {"persons": 1}).status_code == 404
        assert c.post(f"/grants/{grant.pk}/actions", {"action": "suspend", "reason": "x"}).status_code == 404
        assert c.post(f"/grants/{grant.pk}/payments", {"month": "2026-02-01"}).status_code == 404
        assert c.get("/grants").json()["count"] == 0
        assert c.get("/payments").json()["count"] == 0
        assert c.get("/reviews-due", within=366).json()["count"] == 0
        r = c.post("/grants", {"programme": ben.urban.pk, "resident": ben.zhang.pk, "starts_on": "2026-01-01"})
        assert r.status_code == 404 and r.json()["field"] == "resident"
    assert as_(world.village_worker).get("/totals", start="2026-01-01", end="2026-12-31").json() == []
    assert as_(world.handler).get("/totals").status_code == 403
    assert as_(world.handler).get("/programmes").status_code == 403
    grant.refresh_from_db()
    assert grant.state == GrantState.ACTIVE and grant.persons == 2 and Payment.objects.count() == 1
    # in scope without MANAGE_WELFARE: 403
    w = as_(world.worker)
    assert w.get(f"/grants/{grant.pk}").status_code == 200
    assert w.post(f"/grants/{grant.pk}/actions", {"action": "suspend", "reason": "x"}).status_code == 403
    assert w.post(f"/grants/{grant.pk}/payments", {"month": "2026-02-01"}).status_code == 403
    assert w.patch(f"/grants/{grant.pk}", {"persons": 1}).status_code == 403


def test_import_through_the_api_totals_as_the_reports_say(world, ben, as_):
    """Upload the civil-affairs list, read the row errors (masked), commit the good rows, then the
    totals read as the work report: 人次 and 人均补差."""
    from tests.welfare.benefits.test_import import xlsx

    sec = as_(world.secretary)
    rows = [[n, "张桂英", ident(1), "城市低保", f"2026-{n:02d}", 2, 400, "东门社区"] for n in range(1, 7)]
    rows.append([7, "赵阿婆", ident(4), "城市低保", "2026-01", 1, 200, ""])
    rows.append([8, "钱老汉", ident(5), "农村低保", "2026-01", 1, 200, ""])  # outside the secretary's community
    assert as_(world.worker).post("/imports", {"mode": "good_only", "file": xlsx(rows)}).status_code == 403
    r = sec.post("/imports", {"mode": "all_or_nothing", "file": xlsx(rows)})
    assert r.status_code == 201, r.content
    job = r.json()
    assert (job["status"], job["total_rows"], job["good_rows"], job["bad_rows"]) == ("validated", 8, 7, 1)
    errors = sec.get(f"/imports/{job['id']}/errors").json()["items"]
    assert [(e["row"], e["column"]) for e in errors] == [(9, "身份证号")] and ident(5) not in str(errors)
    refused = sec.post(f"/imports/{job['id']}/commit")
    assert refused.status_code == 400 and refused.json()["field"] == "mode"
    assert not Payment.objects.exists()
    assert as_(world.leader).get(f"/imports/{job['id']}").status_code == 404  # another's job
    job = sec.post("/imports", {"mode": "good_only", "file": xlsx(rows)}).json()
    done = sec.post(f"/imports/{job['id']}/commit")
    assert done.status_code == 202 and done.json()["status"] == "committed" and done.json()["created_rows"] == 7
    assert sec.get(f"/imports/{job['id']}/bad-rows").status_code == 200
    assert sec.get("/imports/template").status_code == 200
    rows = sec.get("/totals", start="2026-01-01", end="2026-06-30").json()
    total = next(r for r in rows if r["programme_name"] == "城市低保" and r["community_id"] is None)
    assert (total["person_times"], total["households"], total["amount"], total["per_capita"]) == (13, 2, "2600.00", "200.00")
    assert total["headline"] == "13人次，人均补差200元，共2600元"
