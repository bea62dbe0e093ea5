"""The safety panel of the 驾驶舱: the figures in the seed's terms, recounted from raw rows for the
dashboard's node and period; loaded as a fragment (the dashboard itself reads no safety table);
a new inspection shows at once (the cache's generation moves); 404 outside the scope."""

from __future__ import annotations

import os
import re
from datetime import date

from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from jiedao.core import caching
from jiedao.safety import services
from tests.safety.test_figures_property import run_program
from tests.safety.test_review import recount

EXAMPLES = int(os.environ.get("JIEDAO_SAFETY_PANEL_EXAMPLES", "4"))
PANEL = "/cases/dashboard/panels/safety/"
KEYS = ("base", "visited", "hazards", "major", "rectified", "overdue_open")


def panel_figures(html: str) -> dict[str, str]:
    found = dict(re.findall(r'data-kpi="(\w+)"><dt>[^<]*</dt><dd>([^<]*)</dd>', html))
    assert set(KEYS) | {"coverage_rate", "rectification_rate", "on_time_rate"} <= set(found), found
    return found


def _percent(n: int, d: int) -> str:
    return f"{n / d * 100:.1f}%" if d else "—"


def test_the_panel_recounts_from_raw_rows(world, safety, client):
    users = {"leader": world.subdistrict, "secretary": world.community, "worker": world.grid}

    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def run(data):
        caching.clear()
        cache.clear()
        with transaction.atomic():
            run_program(world, safety, data)
            now = timezone.now()
            months = data.draw(st.sampled_from([1, 3, 12]), label="months")
            today = timezone.localdate()
            month = today.replace(day=1)
            index = month.year * 12 + month.month - 1 + 1 - months
            start = date(index // 12, index % 12 + 1, 1)  # as the dashboard's period
            for name, node in users.items():
                client.force_login(getattr(world, name))
                r = client.get(PANEL, {"node": node.pk, "months": months})
                assert r.status_code == 200
                got = panel_figures(r.content.decode())
                expected = recount(getattr(world, name), node, start, today, now)
                assert {k: int(got[k]) for k in KEYS} == {k: expected[k] for k in KEYS}, (name, months)
                assert got["coverage_rate"] == _percent(expected["visited"], expected["base"])
                assert got["rectification_rate"] == _percent(expected["rectified"], expected["hazards"])
                assert got["on_time_rate"] == _percent(expected["on_time"], expected["hazards"])
            transaction.set_rollback(True)

    run()


def test_the_dashboard_reads_no_safety_table_and_the_panel_follows_writes(world, safety, client):
    client.force_login(world.leader)
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/cases/dashboard/").content.decode()
    assert 'hx-get="/cases/dashboard/panels/safety/?node=' in page
    assert not [q["sql"] for q in queries.captured_queries if "safety_" in q["sql"]]
    before = panel_figures(client.get(PANEL).content.decode())
    assert before["visited"] == "0" and before["base"] == "5"
    services.inspection_record(actor=world.worker, business=safety.diner, inspected_on=timezone.localdate(),
                               findings=[{"description": "电线私拉乱接", "severity": "major", "deadline_days": 3}])
    after = panel_figures(client.get(PANEL).content.decode())
    assert (after["visited"], after["hazards"], after["major"]) == ("1", "1", "1")


def test_out_of_scope_and_unknown_panels_answer_404(world, safety, client):
    client.force_login(world.worker)
    assert client.get(PANEL, {"node": world.grid.pk}).status_code == 200
    assert client.get(PANEL, {"node": world.community.pk}).status_code == 404
    assert client.get(PANEL, {"node": world.village_grid.pk}).status_code == 404
    assert client.get("/cases/dashboard/panels/nosuch/").status_code == 404
