"""The monitoring pages with the named users: they render, work on a phone's form posts, keep
input on errors and answer 404 out of scope."""

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from jiedao.welfare.models.monitoring import MonitoredHousehold, MonitoringChange, MonitoringVisit
from tests.core.test_i18n import compiled_en  # noqa: F401  (a fixture)

from .conftest import backdate_deliberation, lead, to_monitored


@pytest.fixture
def login(client):
    def as_user(user):
        client.force_login(user)
        return client
    return as_user


def test_every_page_renders(world, mon, login):
    m = to_monitored(world, lead(world, mon.home, actor=world.worker))
    measure = m.measures.create(category="medical", content="大病救助", owner="村委会", due_on=timezone.localdate())
    for user in (world.worker, world.secretary, world.leader, world.admin):
        c = login(user)
        for url in ["/welfare/", "/welfare/monitoring/", "/welfare/monitoring/?state=monitored_all&risk=illness",
                    f"/welfare/monitoring/{m.pk}/", "/welfare/monitoring/mine/", "/welfare/monitoring/overdue/",
                    "/welfare/monitoring/overdue/?month=2026-01", "/welfare/monitoring/notice/",
                    "/welfare/monitoring/lines/", "/welfare/monitoring/new/", f"/welfare/monitoring/{m.pk}/visit/",
                    f"/welfare/monitoring/{m.pk}/adjust/"]:
            r = c.get(url)
            assert r.status_code == 200, (user.username, url, r.status_code)
    page = login(world.worker).get(f"/welfare/monitoring/{m.pk}/").content.decode()
    assert "大病救助" in page and "户主101" in page
    assert measure.pk


def test_out_of_scope_pages_are_404(world, mon, login):
    m = to_monitored(world, lead(world, mon.home, actor=world.worker))
    measure = m.measures.create(category="medical", content="大病救助", owner="村委会", due_on=timezone.localdate())
    c = login(world.other_worker)
    for url in [f"/welfare/monitoring/{m.pk}/", f"/welfare/monitoring/{m.pk}/visit/",
                f"/welfare/monitoring/{m.pk}/adjust/"]:
        assert c.get(url).status_code == 404, url
    for url in [f"/welfare/monitoring/{m.pk}/act/", f"/welfare/monitoring/{m.pk}/measures/",
                f"/welfare/monitoring/measures/{measure.pk}/", f"/welfare/monitoring/{m.pk}/visit/",
                f"/welfare/monitoring/{m.pk}/adjust/"]:
        assert c.post(url, {"action": "exit_refuse", "status": "done"}).status_code == 404, url
    listing = c.get("/welfare/monitoring/").content.decode()
    assert "户主101" not in listing
    assert "户主101" not in c.get("/welfare/monitoring/overdue/").content.decode()
    # a handler has no welfare role at all
    assert login(world.handler).get("/welfare/monitoring/").status_code == 403


def test_a_lead_on_the_form(world, mon, login):
    c = login(world.worker)
    r = c.post("/welfare/monitoring/new/", {"household": "201", "kind": "marginal", "risk_types": ["illness"],
                                            "lead_source": "cadre_visit", "lead_on": timezone.localdate()})
    assert r.status_code == 400 and "不在您负责的范围内" in r.content.decode()
    r = c.post("/welfare/monitoring/new/", {"household": "101", "kind": "marginal", "lead_source": "cadre_visit",
                                            "lead_on": timezone.localdate()})
    assert r.status_code == 400
    r = c.post("/welfare/monitoring/new/", {"household": "101", "kind": "marginal", "risk_types": ["illness", "labour"],
                                            "lead_source": "cadre_visit", "lead_on": timezone.localdate(),
                                            "lead_note": "突发重病"})
    assert r.status_code == 302
    m = MonitoredHousehold.objects.get(household=mon.home)
    assert m.cadre == world.worker and m.risk_types == ["illness", "labour"]


def test_steps_on_the_page(world, mon, login):
    m = lead(world, mon.home, actor=world.worker)
    today = timezone.localdate()
    c = login(world.worker)
    r = c.post(f"/welfare/monitoring/{m.pk}/act/", {"action": "verify"})
    assert r.status_code == 400 and "书面授权日期" in r.content.decode()
    assert c.post(f"/welfare/monitoring/{m.pk}/act/", {"action": "verify", "consent_on": today}).status_code == 302
    assert c.post(f"/welfare/monitoring/{m.pk}/act/", {"action": "deliberate", "reason": "x"}).status_code == 403
    c = login(world.secretary)
    assert c.post(f"/welfare/monitoring/{m.pk}/act/", {"action": "deliberate", "reason": "通过"}).status_code == 302
    r = c.post(f"/welfare/monitoring/{m.pk}/act/", {"action": "publish", "notice_from": today,
                                                   "notice_to": today + timedelta(days=2)})
    assert r.status_code == 400 and "公示不少于 5 天" in r.content.decode()
    r = c.post(f"/welfare/monitoring/{m.pk}/act/", {"action": "publish", "notice_from": today - timedelta(days=6),
                                                   "notice_to": today - timedelta(days=1)})
    assert r.status_code == 400 and "不能早于民主评议日期" in r.content.decode()
    backdate_deliberation(m)
    assert c.post(f"/welfare/monitoring/{m.pk}/act/", {"action": "publish", "notice_from": today - timedelta(days=6),
                                                      "notice_to": today - timedelta(days=1)}).status_code == 302
    notice = c.get("/welfare/monitoring/notice/").content.decode()
    assert "101" in notice and "因病" not in notice
    assert c.post(f"/welfare/monitoring/{m.pk}/act/", {"action": "approve"}).status_code == 302
    m.refresh_from_db()
    assert m.state == "monitored" and m.included_on == today


def test_a_visit_on_a_phone_records_a_risk_change_and_a_measure(world, mon, login):
    m = to_monitored(world, lead(world, mon.home, actor=world.worker))
    measure = m.measures.create(category="medical", content="大病救助", owner="村委会",
                                due_on=timezone.localdate() + timedelta(days=10))
    c = login(world.worker)
    form = c.get(f"/welfare/monitoring/{m.pk}/visit/").content.decode()
    assert f"m{measure.pk}_status" in form
    data = {"visited_on": timezone.localdate(), "note": "因意外受伤", "risks_added": ["accident"],
            f"m{measure.pk}_status": "ongoing", f"m{measure.pk}_progress": "已提交材料",
            "new_category": "safety_net", "new_content": "申请临时救助", "new_owner": "街道社会事务办",
            "new_due_on": timezone.localdate() + timedelta(days=20), "submission": "s1"}
    r = c.post(f"/welfare/monitoring/{m.pk}/visit/", data)
    assert r.status_code == 302, r.content.decode()[:2000]
    m.refresh_from_db()
    assert m.risk_types == ["illness", "accident"]
    assert MonitoringVisit.objects.filter(monitored=m).count() == 1
    assert MonitoringChange.objects.filter(monitored=m, field="risk_types").exists()
    assert m.measures.count() == 2 and m.measures.get(pk=measure.pk).status == "ongoing"
    r = c.post(f"/welfare/monitoring/{m.pk}/visit/", {**data, "submission": "s2", "new_content": "x", "new_owner": "y",
                                                      "new_due_on": ""})
    assert r.status_code == 400 and "完成时限" in r.content.decode()
    mine = c.get("/welfare/monitoring/mine/").content.decode()
    assert "本月已走访" in mine


def test_adjust_and_measure_on_the_page(world, mon, login):
    m = to_monitored(world, lead(world, mon.home, actor=world.worker))
    c = login(world.secretary)
    r = c.post(f"/welfare/monitoring/{m.pk}/adjust/", {"kind": "sudden", "risk_types": ["illness"],
                                                      "cadre": world.worker.pk, "reason": "突发严重困难"})
    assert r.status_code == 302
    assert MonitoringChange.objects.get(monitored=m, field="kind").new == "sudden"
    r = c.post(f"/welfare/monitoring/{m.pk}/measures/", {"category": "housing", "content": "危房改造",
                                                        "owner": "村委会", "due_on": timezone.localdate()})
    assert r.status_code == 302
    measure = m.measures.get()
    assert c.post(f"/welfare/monitoring/measures/{measure.pk}/", {"status": "done"}).status_code == 302
    measure.refresh_from_db()
    assert measure.status == "done"


@pytest.mark.usefixtures("compiled_en")
def test_the_welfare_overview_shows_the_panel_and_english_works(world, mon, login):
    to_monitored(world, lead(world, mon.home, actor=world.worker))
    c = login(world.leader)
    page = c.get("/welfare/").content.decode()
    assert "监测户数/人数" in page and "1户、2人" in page
    english = c.get("/welfare/monitoring/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    translation.deactivate()  # the middleware leaves the request's language active in the thread
    assert "Monitored households" in english and "Marginal household at risk" in english
    assert "监测户数/人数" not in login(world.handler).get("/welfare/").content.decode()


def test_the_notice_list_is_scoped(world, mon, login):
    m = lead(world, mon.home, actor=world.worker)
    today = timezone.localdate()
    from jiedao.welfare.monitoring import services

    services.monitored_act(actor=world.worker, monitored=m, action="verify", consent_on=today)
    services.monitored_act(actor=world.secretary, monitored=m, action="deliberate", reason="通过")
    services.monitored_act(actor=world.secretary, monitored=m, action="publish")
    assert "测试路101号" not in login(world.other_worker).get("/welfare/monitoring/notice/").content.decode()
    page = login(world.worker).get("/welfare/monitoring/notice/").content.decode()
    assert ">101<" in page
    # on the notice's last day it cannot be decided yet
    with pytest.raises(Exception, match="公示期"):
        services.monitored_act(actor=world.secretary, monitored=m, action="approve")
