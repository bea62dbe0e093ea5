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


# --- the figures' fragment cache (issue 14) --------------------------------------------------------

FRAGMENT = "cases/_dashboard_figures.html"


def rendered(response) -> bool:
    """Whether this response rendered the figures (a cache miss) rather than reusing them."""
    return FRAGMENT in [t.name for t in response.templates]


def test_a_figure_moves_on_the_very_next_view_and_repeat_views_reuse_the_fragment(client, world, catalogue):
    from jiedao.cases.statistics import rollups

    file_case(world, catalogue)
    client.force_login(world.leader)
    first = client.get(URL)
    assert rendered(first) and kpi(first.content.decode(), "reported") == "1"
    again = client.get(URL)
    assert not rendered(again) and kpi(again.content.decode(), "reported") == "1"

    case = file_case(world, catalogue, title="路灯不亮")  # a case moves: the very next view shows it
    moved = client.get(URL)
    assert rendered(moved) and kpi(moved.content.decode(), "reported") == "2"
    services.case_act(actor=world.secretary, case=case, action=Action.ACCEPT)
    assert kpi(client.get(URL).content.decode(), "accepted") == "1"

    assert rollups.fold() > 0  # folding changes no figure, and the page says the same after it
    folded = client.get(URL)
    assert rendered(folded)
    assert (kpi(folded.content.decode(), "reported"), kpi(folded.content.decode(), "accepted")) == ("2", "1")
    assert not rendered(client.get(URL))
    file_case(world, catalogue, title="井盖松动")  # the first delta after a fold moves the key too
    assert kpi(client.get(URL).content.decode(), "reported") == "3"


def test_one_fragment_per_scope_shared_by_its_viewers_only(client, world, catalogue):
    file_case(world, catalogue)
    services.case_create(actor=world.other_worker, source=Source.DOOR_VISIT, node=world.other_grid, title="路灯不亮",
                         description="路灯不亮，请尽快处理。", category=catalogue["garbage"])
    client.force_login(world.leader)
    leader = client.get(URL)
    assert rendered(leader) and kpi(leader.content.decode(), "reported") == "2"
    client.force_login(world.admin)  # the same sub-district: the leader's fragment, not a new one
    admin = client.get(URL)
    assert admin.context["node"] == world.subdistrict and not rendered(admin)
    assert kpi(admin.content.decode(), "reported") == "2"
    assert "李主任" not in admin.content.decode()  # the page around the figures is the viewer's own

    client.force_login(world.worker)  # a grid: never the sub-district's fragment
    worker = client.get(URL)
    assert rendered(worker) and kpi(worker.content.decode(), "reported") == "1"
    assert client.get(URL, {"node": world.subdistrict.pk}).status_code == 404  # checked before the cache
    client.force_login(world.other_worker)
    other = client.get(URL)
    assert rendered(other) and other.context["node"] == world.other_grid
    assert "东门第二网格" in other.content.decode()
    client.force_login(world.leader)  # the leader may look at a grid: that grid's fragment is shared
    assert not rendered(client.get(URL, {"node": world.grid.pk}))


def test_english_and_chinese_fragments_are_separate(client, world, catalogue):
    file_case(world, catalogue)
    client.force_login(world.leader)
    chinese = client.get(URL)
    english = client.get(URL, HTTP_ACCEPT_LANGUAGE="en")
    assert rendered(chinese) and rendered(english)
    assert "口径说明" in chinese.content.decode() and "How each figure is counted" in english.content.decode()
    assert "口径说明" not in english.content.decode()
    assert not rendered(client.get(URL, HTTP_ACCEPT_LANGUAGE="en"))
    assert "口径说明" in client.get(URL).content.decode()


# --- each scope's figures stay cached until a case moves under it (issue 14) ------------------------


def village_case(world, catalogue, title="村口路灯不亮"):
    return services.case_create(actor=world.village_worker, source=Source.DOOR_VISIT, node=world.village_grid,
                                title=title, description=f"{title}，请尽快处理。", category=catalogue["garbage"])


def test_a_fold_elsewhere_keeps_a_scope_cached_and_a_fold_under_it_renders_it_again(client, world, catalogue):
    from jiedao.cases.statistics import rollups

    file_case(world, catalogue)
    assert rollups.fold() > 0
    client.force_login(world.worker)
    assert rendered(client.get(URL))
    client.force_login(world.secretary)
    assert rendered(client.get(URL))  # the community

    village_case(world, catalogue)  # a case moves in another community, and is folded
    assert rollups.fold() > 0
    assert not rendered(community := client.get(URL))  # not under the community: its figures stand
    assert kpi(community.content.decode(), "reported") == "1"
    client.force_login(world.worker)
    assert not rendered(grid := client.get(URL)) and kpi(grid.content.decode(), "reported") == "1"
    client.force_login(world.leader)  # the sub-district holds both
    assert rendered(sub := client.get(URL)) and kpi(sub.content.decode(), "reported") == "2"
    client.force_login(world.village_worker)
    assert kpi(client.get(URL).content.decode(), "reported") == "1"

    client.force_login(world.worker)
    file_case(world, catalogue, title="路灯不亮")  # under the grid: pending, then folded
    assert rendered(pending := client.get(URL)) and kpi(pending.content.decode(), "reported") == "2"
    assert not rendered(client.get(URL))
    assert rollups.fold() > 0
    assert rendered(folded := client.get(URL)) and kpi(folded.content.decode(), "reported") == "2"
    client.force_login(world.other_worker)  # the sibling grid's figures did not move
    other = client.get(URL)
    assert kpi(other.content.decode(), "reported") == "0"
    client.force_login(world.leader)
    assert rendered(sub := client.get(URL)) and kpi(sub.content.decode(), "reported") == "3"


def test_the_scope_generation_moves_with_its_own_deltas_folds_and_rebuilds_only(world, catalogue):
    from jiedao.cases.statistics import rollups
    from jiedao.core.scope import subtree_range

    def key(node):
        return rollups.generation(node.pk, subtree_range(node.path))

    grid, village, sub = world.grid, world.village, world.subdistrict
    before = {n.pk: key(n) for n in (grid, village, sub)}
    village_case(world, catalogue)
    assert key(grid) == before[grid.pk]
    assert key(village) != before[village.pk] and key(sub) != before[sub.pk]
    pending = {n.pk: key(n) for n in (grid, village, sub)}
    assert rollups.fold() > 0
    assert key(grid) == pending[grid.pk]  # the fold took nothing under the grid
    assert key(village) != pending[village.pk] and key(sub) != pending[sub.pk]
    folded = {n.pk: key(n) for n in (grid, village, sub)}
    assert rollups.fold() == 0 and {n.pk: key(n) for n in (grid, village, sub)} == folded  # an empty fold
    rollups.rebuild()
    assert all(key(n) != folded[n.pk] for n in (grid, village, sub))  # a rebuild moves every scope


# --- 本月热点: a fragment the page loads after it is shown (issue 14) ---------------------------------

HOTSPOTS = "/cases/dashboard/hotspots/"


def test_the_page_loads_its_hotspots_as_a_fragment_shared_per_node(client, world, catalogue):
    from django.core.cache import cache

    file_case(world, catalogue)
    file_case(world, catalogue, title="垃圾桶满了没人清")
    client.force_login(world.leader)
    page = client.get(URL).content.decode()
    assert f'hx-get="{HOTSPOTS}?node={world.subdistrict.pk}"' in page and 'hx-trigger="load"' in page
    fragment = client.get(HOTSPOTS, {"node": world.subdistrict.pk}, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    body = fragment.content.decode()
    assert "本月热点" in body and "东门社区 · 暴露垃圾" in body and "<html" not in body
    # The leader sees every case under the sub-district: the answer is the node's, for anyone who does.
    assert [k for k in cache._cache if f":hotspots:v2:node:{world.subdistrict.pk}:" in k]
    client.force_login(world.worker)  # a grid worker: their grid's buildings, never the sub-district
    assert client.get(HOTSPOTS).status_code == 200
    assert client.get(HOTSPOTS, {"node": world.subdistrict.pk}).status_code == 404
    assert client.get(HOTSPOTS, {"node": world.other_grid.pk}).status_code == 404
    assert client.get(HOTSPOTS, {"node": "x"}).status_code == 404
    client.force_login(world.handler)  # no place scope
    assert client.get(HOTSPOTS).status_code == 403
    client.logout()
    assert client.get(HOTSPOTS).status_code == 302
