"""The 信访 panel of the 驾驶舱: `selectors.panel_figures` (recounted from raw rows by
test_figures_property) for the dashboard's node and period within the viewer's petitions scope,
loaded as a fragment; a new petition shows at once; the page itself reads no petitions table;
404 for a viewer without petitions rights or a node outside the scope."""

from __future__ import annotations

import html
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiedao.petitions import selectors
from tests.petitions.conftest import register

PANEL = "/cases/dashboard/panels/petitions/"


def shown(content: str) -> list[tuple[str, str]]:
    pairs = re.findall(r'<div class="stat"><dt>([^<]*)</dt><dd>(?:<a href="[^"]*">)?([^<]*)', content)
    return [(html.unescape(label), html.unescape(value)) for label, value in pairs]


def test_the_panel_shows_the_figures_for_the_viewer(world, client):
    register(world)
    register(world, name="李信访", title="噪音扰民", content="楼下饭店夜间噪音扰民，多次反映未果。")
    today = timezone.localdate()
    start = today.replace(day=1)
    for user, node in ((world.leader, world.subdistrict), (world.secretary, world.community)):
        client.force_login(user)
        r = client.get(PANEL, {"node": node.pk, "months": 1})
        assert r.status_code == 200, user
        want = [(str(label), str(value)) for label, value, _url in selectors.panel_figures(user, node, start, today)]
        assert shown(r.content.decode()) == want, user.username
        assert dict(want)["信访总量（件）"] == "2"


def test_a_new_petition_shows_at_once_and_the_page_reads_no_petitions_table(world, client):
    client.force_login(world.secretary)
    before = dict(shown(client.get(PANEL, {"node": world.community.pk}).content.decode()))
    register(world)
    after = dict(shown(client.get(PANEL, {"node": world.community.pk}).content.decode()))
    assert int(after["信访总量（件）"]) == int(before["信访总量（件）"]) + 1
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/cases/dashboard/").status_code == 200
    assert not [q["sql"] for q in queries.captured_queries if "petitions_" in q["sql"]]


def test_without_petitions_rights_or_outside_the_scope_404(world, client):
    client.force_login(world.worker)  # grid workers have no petitions rights
    assert client.get(PANEL).status_code == 404
    client.force_login(world.secretary)
    assert client.get(PANEL, {"node": world.village.pk}).status_code == 404
