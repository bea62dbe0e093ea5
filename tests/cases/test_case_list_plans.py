"""The case list's filters are served by indexes (issue 14): for every filter, at every kind of
scope, SQLite's EXPLAIN QUERY PLAN of each query that chooses a page's ids or counts them shows
no scan of the cases table (walking it whole, or a whole index of it) and no sort of what it
found (USE TEMP B-TREE FOR ORDER BY). A plan test, not a timed one: the figures at district scale
are in bench/case_list.py and docs/benchmarks.md.

The one deliberate scan is the unfiltered list of a district or wider (the superuser here): it
walks the table newest first and stops after a page (NOT INDEXED), and is left out below."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jiedao.cases import selectors, services
from jiedao.cases.models import Category, Source, State, Tier

SQLITE_ONLY = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's query plans")


@pytest.fixture
def grouped(catalogue):
    """The catalogue with 暴露垃圾 and 邻里纠纷 in a group (a group filter lists both)."""
    group = Category.objects.create(code="env", name="市容环境")
    for name in ("garbage", "dispute"):
        catalogue[name].parent = group
        catalogue[name].save()
    return {**catalogue, "group": group}

TABLE_SCAN = re.compile(r"\bSCAN cases_case\b")  # not "SCAN cases_casetext_fts VIRTUAL TABLE", an index


def plans(run) -> list[tuple[str, str]]:
    with CaptureQueriesContext(connection) as ctx:
        run()
    found = []
    for query in ctx.captured_queries:
        sql = query["sql"]
        if '"cases_case"' not in sql:
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            found.append((sql, " | ".join(str(row[-1]) for row in cursor.fetchall())))
    return found


FILTERS = {
    "state": lambda w, c: {"state": State.ACCEPTED},
    "tier": lambda w, c: {"tier": Tier.PUBLIC},
    "category": lambda w, c: {"category": c["garbage"]},
    "category group": lambda w, c: {"category": c["group"]},
    "overdue": lambda w, c: {"overdue": True},
    "mine": lambda w, c: {"mine": True},
    "text": lambda w, c: {"text": "垃圾清运"},
    "area": lambda w, c: {"node": w.grid},
    "area and state": lambda w, c: {"node": w.grid, "state": State.REPORTED},
    "state and tier": lambda w, c: {"state": State.REPORTED, "tier": Tier.PUBLIC},
    "nothing": lambda w, c: {},
}


@pytest.mark.parametrize("who", ["root", "leader", "secretary", "worker", "handler"])
@pytest.mark.parametrize("name", list(FILTERS))
@SQLITE_ONLY
def test_each_filter_is_served_by_an_index(world, grouped, who, name):
    catalogue = grouped
    user = getattr(world, who)
    if name == "nothing" and who == "root":
        pytest.skip("the unfiltered list of everything walks the table newest first (see the module)")
    if name.startswith("area") and who in ("handler",):
        pytest.skip("the area filter lists places of the user's own scope")
    for _ in range(3):
        services.case_create(actor=world.worker, source=Source.DOOR_VISIT, node=world.grid, building=world.building,
                             title="楼下垃圾三天没人清运", description="楼下垃圾三天没人清运，请尽快处理。",
                             category=catalogue["garbage"], suggest=False)
    filters = FILTERS[name](world, catalogue)
    first = plans(lambda: selectors.page_ids(user, limit=2, count=True, **filters))
    later = plans(lambda: selectors.page_ids(user, limit=2, cursor=selectors.encode_cursor(10**6), count=True,
                                             **filters))
    assert first and later
    for sql, plan in first + later:
        assert not TABLE_SCAN.search(plan), f"{name} for {who} scans the cases table:\n{sql}\n{plan}"
        assert "USE TEMP B-TREE FOR ORDER BY" not in plan, f"{name} for {who} sorts:\n{sql}\n{plan}"


def test_the_filtered_pages_are_the_filtered_list(world, grouped):
    catalogue = grouped
    """The index-driven ids are exactly case_list's, newest first, page after page."""
    for i in range(7):
        services.case_create(actor=world.secretary, source=Source.DOOR_VISIT, node=world.grid if i % 2 else world.other_grid,
                             title=f"第{i}号 楼下垃圾没人清运", description="楼下垃圾没人清运，请尽快处理。",
                             category=catalogue["garbage" if i % 3 else "dispute"], suggest=False)
    for who in ("root", "leader", "secretary", "worker"):
        user = getattr(world, who)
        for name, make in FILTERS.items():
            filters = make(world, catalogue)
            expected = list(selectors.case_list(user, **filters).values_list("id", flat=True))
            seen, cursor = [], None
            while True:
                ids, cursor, _t, _c = selectors.page_ids(user, limit=2, cursor=cursor, **filters)
                seen += ids
                if not cursor:
                    break
            assert seen == expected, (who, name)
            _ids, _next, total, capped = selectors.page_ids(user, limit=2, count=True, **filters)
            assert (total, capped) == (len(expected), False), (who, name)
