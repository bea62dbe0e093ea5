"""The leadership dashboard (驾驶舱): figures from the CaseStat rollups for one scope node, the
same 404/403 rules as the case pages, and echarts served by the app itself (no CDN)."""

from __future__ import annotations

import re
from datetime import timedelta

from django.contrib.staticfiles.storage import staticfiles_storage
from django.urls import reverse
from django.utils import timezone

from jiedao.cases import services
from jiedao.cases.models import Source, State
from jiedao.cases.statistics import stats
from jiedao.cases.workflow import Action

URL = "/cases/dashboard/"


def file_case(world, catalogue, title="楼下垃圾三天没人清运", node=None):
    return services.case_create(actor=world.worker, source=Source.DOOR_VISIT, node=node or world.grid,
                                title=title, description=f"{title}，请尽快处理。", category=catalogue["garbage"],
                                reporter_name="陈阿姨", reporter_phone="13812345678")


def close(world, case):
    steps = [(world.secretary, Action.ACCEPT, {}), (world.secretary, Action.DISPATCH, {}),
             (world.handler, Action.ACKNOWLEDGE, {}), (world.handler, Action.RESOLVE, {"reason": "已清运"}),
             (world.worker, Action.VERIFY_PASS, {}), (world.secretary, Action.CLOSE, {})]
    for actor, action, kw in steps:
        case = services.case_act(actor=actor, case=case, action=action, **kw)
    assert case.state == State.CLOSED
    return case


def kpi(html: str, key: str) -> str:
    match = re.search(rf'data-kpi="{key}" title="[^"]+"><dt>[^<]*</dt><dd>([^<]*)</dd>', html)
    assert match, key
    return match.group(1)


def test_leader_sees_the_figures_of_the_subdistrict(client, world, catalogue):
    close(world, file_case(world, catalogue))
    accepted = file_case(world, catalogue, title="路灯不亮")
    services.case_act(actor=world.secretary, case=accepted, action=Action.ACCEPT)
    file_case(world, catalogue, title="井盖松动")
    this_month = timezone.localdate().replace(day=1)
    next_month = (this_month.replace(day=28) + timedelta(days=4)).replace(day=1)
    expected = stats.totals(world.subdistrict.path, this_month, next_month)
    assert expected.counts["reported"] == 3 and expected.counts["closed"] == 1

    client.force_login(world.leader)
    response = client.get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert response.context["node"] == world.subdistrict
    assert response.context["ranking_by"] == "community"
    for key in ("reported", "accepted", "resolved", "closed"):
        assert kpi(page, key) == str(expected.counts[key]), key
    # 办结率 divides the cases due by the standing resolutions among them, and says so on the tile.
    assert (expected.counts["due"], expected.counts["due_resolved"]) == (1, 1)
    assert kpi(page, "due_resolved_rate") == "100.0%"
    assert re.search(r'data-kpi="due_resolved_rate"[^>]*>.*?<dd class="stat-parts">到期已办结 1 / 到期应办结 1</dd>', page)
    assert kpi(page, "ack_rate") == "100.0%" and kpi(page, "reopen_rate") == "0.0%"
    assert kpi(page, "satisfaction_rate") == "—"  # nobody followed up yet: no denominator
    assert "口径说明" in page and "到期已办结 ÷ 到期应办结" in page
    assert 'id="dash-data"' in page and "vendor/echarts/echarts.min.js" in page
    assert "东门社区" in page  # the community ranking
    assert 'href="/cases/dashboard/"' in page and "驾驶舱" in page  # the nav entry
    assert client.get(URL, {"months": "12"}).status_code == 200
    assert len(response.context["trend"]) == 12


def test_worker_sees_own_grid_only(client, world, catalogue):
    file_case(world, catalogue)
    client.force_login(world.worker)
    response = client.get(URL)
    assert response.status_code == 200
    assert response.context["node"] == world.grid and response.context["ranking_by"] == "grid"
    assert kpi(response.content.decode(), "reported") == "1"
    assert client.get(URL, {"node": world.grid.pk}).status_code == 200
    assert client.get(URL, {"node": world.other_grid.pk}).status_code == 404
    assert client.get(URL, {"node": "abc"}).status_code == 404


def test_handler_without_place_scope_is_refused(client, world):
    # A department handler sees the cases dispatched to the department (the case list), but holds
    # VIEW_CASES on no place, so the place dashboard is not theirs and the nav does not offer it.
    client.force_login(world.handler)
    assert client.get(reverse("cases:list")).status_code == 200
    assert client.get(URL).status_code == 403
    assert 'href="/cases/dashboard/"' not in client.get(reverse("home")).content.decode()
    client.logout()
    assert client.get(URL).status_code == 302  # to the login page


def test_echarts_is_served_by_the_app(client, world):
    response = client.get(staticfiles_storage.url("vendor/echarts/echarts.min.js"))
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"echarts" in body[:5000]
