"""Through the REST API, as issue 11 will be checked: a case that fails verification twice and
then passes moves 办结 by exactly one and the resolution levels by exactly one in total; no rate
of any grid or community leaves [0, 1]."""

from __future__ import annotations

from jiedao.cases.models import CaseStatDelta
from jiedao.cases.statistics import rollups
from tests.cases.test_api import act, file

BASE = "/api/v1"
LEVELS = ("level1", "level2", "level3", "level4")


def figures(api, node):
    response = api.get("/cases/stats/rates", node=node.pk)
    assert response.status_code == 200, response.content
    body = response.json()
    return body["rates"]["counts"], sum(body["levels"][key] for key in LEVELS), body


def test_two_failed_verifications_then_a_pass_count_one_resolution(world, catalogue, as_):
    worker, secretary, handler, leader = (as_(getattr(world, n)) for n in ("worker", "secretary", "handler", "leader"))
    other = file(worker, world)["id"]  # a case resolved once, around which the figures must not move
    for api, action, fields in [(secretary, "accept", {}), (secretary, "dispatch", {}), (handler, "acknowledge", {}),
                                (handler, "resolve", {"reason": "已清运"})]:
        assert act(api, other, action, **fields).status_code == 200
    before, levels_before, _ = figures(leader, world.subdistrict)
    assert (before["resolved"], levels_before) == (1, 1)

    case = file(worker, world)["id"]
    seen = []
    steps = [(secretary, "accept", {}), (secretary, "dispatch", {}), (handler, "acknowledge", {}),
             (handler, "resolve", {"reason": "已清运"}), (worker, "verify_fail", {"reason": "仍有垃圾"}),
             (handler, "resolve", {"reason": "再次清运"}), (worker, "verify_fail", {"reason": "还有残留"}),
             (handler, "resolve", {"reason": "彻底清运"}), (worker, "verify_pass", {})]
    for n, (api, action, fields) in enumerate(steps):
        response = act(api, case, action, **fields)
        assert response.status_code == 200, (action, response.content)
        if n == 4:
            rollups.fold()  # folded in between: a negative delta lands on a folded row
        counts, levels, _ = figures(leader, world.subdistrict)
        seen.append((action, counts["resolved"] - before["resolved"], levels - levels_before))
    assert seen == [("accept", 0, 0), ("dispatch", 0, 0), ("acknowledge", 0, 0), ("resolve", 1, 1),
                    ("verify_fail", 0, 0), ("resolve", 1, 1), ("verify_fail", 0, 0), ("resolve", 1, 1),
                    ("verify_pass", 1, 1)]

    after, levels_after, body = figures(leader, world.subdistrict)
    assert after["resolved"] - before["resolved"] == 1 and levels_after - levels_before == 1
    assert body["levels"]["level2"] - levels_before == 1  # where it was resolved: the department
    assert after["reworked"] - before["reworked"] == 1  # one case reworked (twice)
    assert after["accepted"] - before["accepted"] == 1 and after["due_resolved"] - before["due_resolved"] == 1
    grid, _, _ = figures(worker, world.grid)
    assert grid["resolved"] == 2 and grid["due"] == grid["due_resolved"] == 2
    assert CaseStatDelta.objects.exists()  # the last steps are still pending: the readers add them
    rollups.fold()
    assert figures(leader, world.subdistrict)[0] == after

    # No rate of any grid or community leaves [0, 1].
    for node in (world.subdistrict, world.community):
        response = leader.get("/cases/stats/ranking", node=node.pk, by="child")
        assert response.status_code == 200, response.content
        rows = response.json()["items"]
        assert rows
        for row in rows:
            for name, value in row["rates"].items():
                if name != "counts":
                    assert value is None or 0 <= value <= 1, (row["unit_name"], name, value)
