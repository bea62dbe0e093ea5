"""The welfare panel of the 驾驶舱: the parts' figures (each recounted from raw rows by its own
property test) for the dashboard's node and period, within the viewer's welfare scope; loaded as a
fragment (the dashboard page itself reads no welfare table); a new visit shows at once (the
cache's generation moves); 404 for a viewer without welfare rights or outside the scope."""

from __future__ import annotations

import html
import re

from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiedao.welfare.benefits import selectors as benefits
from jiedao.welfare.monitoring import selectors as monitoring
from jiedao.welfare.visits import selectors as visits
from jiedao.welfare.visits import services
from tests.welfare.visits.conftest import make_visits

PANEL = "/cases/dashboard/panels/welfare/"


def shown(content: str) -> list[tuple[str, str]]:
    pairs = re.findall(r'<div class="stat"><dt>([^<]*)</dt><dd>(?:<a href="[^"]*">)?([^<]*)', content)
    return [(html.unescape(label), html.unescape(value)) for label, value in pairs]


def expected(user, node, start, end) -> list[tuple[str, str]]:
    rows = [*monitoring.panel_figures(user, node, start, end), *benefits.panel_figures(user, node, start, end),
            *visits.panel_figures(user, node, start, end)]
    return [(str(label), str(value)) for label, value, _url in rows]


def test_the_panel_shows_each_parts_figures_for_the_viewer(world, client):
    make_visits(world)
    today = timezone.localdate()
    start = today.replace(day=1)
    for user, node in ((world.leader, world.subdistrict), (world.secretary, world.community), (world.worker, world.grid)):
        cache.clear()
        client.force_login(user)
        r = client.get(PANEL, {"node": node.pk, "months": 1})
        assert r.status_code == 200, user
        assert shown(r.content.decode()) == expected(user, node, start, today), user.username


def test_a_new_visit_shows_at_once_and_the_dashboard_reads_no_welfare_table(world, client):
    v = make_visits(world)
    cache.clear()
    client.force_login(world.worker)
    before = dict(shown(client.get(PANEL, {"node": world.grid.pk}).content.decode()))
    services.visit_record(actor=world.worker, resident=v.alice, visited_on=timezone.localdate(), findings="身体尚好")
    after = dict(shown(client.get(PANEL, {"node": world.grid.pk}).content.decode()))
    assert int(after["已走访（人次）"]) == int(before["已走访（人次）"]) + 1
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/cases/dashboard/").status_code == 200
    assert not [q["sql"] for q in queries.captured_queries if "welfare_" in q["sql"]]


def test_outside_the_scope_or_without_welfare_rights_404(world, client):
    client.force_login(world.worker)
    assert client.get(PANEL, {"node": world.other_grid.pk}).status_code == 404  # not the worker's grid
    client.force_login(world.handler)  # a department handler has no welfare rights
    assert client.get(PANEL).status_code in (403, 404)


def test_a_new_request_and_card_application_show_at_once(world, client):
    v = make_visits(world)
    cache.clear()
    client.force_login(world.worker)
    before = dict(shown(client.get(PANEL, {"node": world.grid.pk}).content.decode()))
    services.request_create(actor=world.worker, veteran=v.dan_veteran, kind="help", content="住院困难")
    middle = dict(shown(client.get(PANEL, {"node": world.grid.pk}).content.decode()))
    assert middle["诉求办结"] != before["诉求办结"]
    services.card_apply(actor=world.worker, veteran=v.dan_veteran)
    after = dict(shown(client.get(PANEL, {"node": world.grid.pk}).content.decode()))
    assert int(after["优待证申请人次"]) == int(before["优待证申请人次"]) + 1
