"""The case list's total (issue 14; docs/figures.md, 事项列表的总数): exact when `count_capped` is
false, recounted here from the raw rows; when counting stopped early (at its reading budget, or at
COUNT_CAP) a lower bound — the list holds at least `count` cases — and the staff page says
"至少 N 条". The budgets are made small here so that a few cases reach them; on PostgreSQL a text
search of common words walks the list (forced below by the threshold), rarer words the index."""

import secrets

import pytest
from django.db import connection
from django.urls import reverse

from jiedao.cases import selectors, services
from jiedao.cases.models import Case, Source

PG = connection.vendor == "postgresql"


def file_case(world, catalogue, title, *, node=None, category="garbage"):
    return services.case_create(actor=world.secretary, source=Source.DOOR_VISIT, node=node or world.grid,
                                title=title, description=f"{title}，请尽快处理。", category=catalogue[category],
                                suggest=False)


def copies(case, n):
    """n more cases like `case`, with its text index rows (bulk: the list reads rows)."""
    from jiedao.cases import search

    rows = []
    for _ in range(n):
        row = Case.objects.get(pk=case.pk)
        row.pk = None
        row.ticket = f"20260101-{secrets.token_hex(4).upper()}"
        rows.append(row)
    Case.objects.bulk_create(rows)
    search.index_rows((row.pk, row.title, row.description) for row in rows)


def recount(user, word):
    """The true total from the raw rows: the user's visible cases whose title or description holds `word`."""
    visible = selectors.cases_visible(user)
    return sum(1 for title, description in visible.values_list("title", "description")
               if word in title or word in description)


@pytest.fixture(params=["index", "walk", "short walk"] if PG else ["fts"])
def way(request, monkeypatch):
    """How a text search is served: on PostgreSQL through the index (rare words) or by walking the
    list (common words: forced by a zero threshold; a short walk reads 5 cases, then the index);
    on SQLite through FTS5."""
    if request.param in ("walk", "short walk"):
        monkeypatch.setattr(selectors, "PG_TEXT_WALK_MIN", 0)
        if request.param == "short walk":
            monkeypatch.setattr(selectors, "PG_TEXT_WALK", 5)
    elif request.param == "index":
        monkeypatch.setattr(selectors, "PG_TEXT_WALK_MIN", 10**12)
    return request.param


@pytest.fixture
def cases(world, catalogue):
    """7 cases about rubbish in the worker's grid, 2 in the other grid, 3 about something else."""
    mine = file_case(world, catalogue, "楼下垃圾三天没人清运")
    copies(mine, 6)
    theirs = file_case(world, catalogue, "二网格垃圾桶满了", node=world.other_grid)
    copies(theirs, 1)
    other = file_case(world, catalogue, "路灯不亮", category="dispute")
    copies(other, 2)


def test_a_text_count_under_the_budget_is_exact(world, as_, cases, way):
    for who in ("worker", "secretary", "leader", "root"):
        user = getattr(world, who)
        body = as_(user).get("/cases", q="垃圾", limit=2).json()
        assert (body["count"], body["count_capped"]) == (recount(user, "垃圾"), False), who
        assert len(body["items"]) == 2 and body["next_cursor"]
        # every page is the filtered list (case_list), newest first
        seen, cursor = [], None
        while True:
            ids, cursor, _total, _capped = selectors.page_ids(user, limit=2, cursor=cursor, text="垃圾")
            seen += ids
            if not cursor:
                break
        assert seen == list(selectors.case_list(user, text="垃圾").values_list("id", flat=True)), who
    assert as_(world.worker).get("/cases", q="路灯", limit=2).json()["count"] == recount(world.worker, "路灯") == 3
    body = as_(world.worker).get("/cases", q="井盖", limit=2).json()
    assert (body["count"], body["count_capped"], body["items"]) == (0, False, [])


def test_a_text_count_beyond_the_budget_is_a_lower_bound(world, as_, client, cases, way, monkeypatch):
    monkeypatch.setattr(selectors, "TEXT_COUNT_BUDGET", 3)
    monkeypatch.setattr(selectors, "PG_TEXT_COUNT_BUDGET", 3)
    for who, limit in (("worker", 2), ("leader", 2), ("leader", 5)):
        user = getattr(world, who)
        body = as_(user).get("/cases", q="垃圾", limit=limit).json()
        total = recount(user, "垃圾")
        assert body["count_capped"] is True, who
        # at least the page and the next case (there is a next page), never more than the list holds
        assert limit + 1 <= body["count"] <= total, (who, body["count"], total)
    # the list fits on one page: counted exactly, whatever the budget
    body = as_(world.worker).get("/cases", q="垃圾", limit=50).json()
    assert (body["count"], body["count_capped"]) == (recount(world.worker, "垃圾"), False)
    # the staff page says "at least"
    monkeypatch.setattr("django.conf.settings.JIEDAO_PAGE_SIZE", 2)
    client.force_login(world.leader)
    page = client.get(reverse("cases:list"), {"q": "垃圾"})
    assert page.context["count_capped"] and f"至少 {page.context['count']} 条" in page.content.decode()


def test_a_filter_count_beyond_the_budget_is_a_lower_bound(world, as_, catalogue, cases, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_BUDGET", 4)
    monkeypatch.setattr(selectors, "COUNT_STREAM_MIN", 4)
    group = catalogue["garbage"].__class__.objects.create(code="env", name="市容环境")
    for name in ("garbage", "dispute"):
        catalogue[name].parent = group
        catalogue[name].save()
    for who in ("worker", "leader"):
        user = getattr(world, who)
        body = as_(user).get("/cases", category="garbage", limit=2).json()
        total = selectors.cases_visible(user).filter(category=catalogue["garbage"]).count()
        assert body["count_capped"] is True and 3 <= body["count"] <= total, (who, body["count"], total)
        body = as_(user).get("/cases", category="env", limit=2).json()
        total = selectors.cases_visible(user).filter(category__in=[catalogue["garbage"], catalogue["dispute"]]).count()
        assert body["count_capped"] is True and 3 <= body["count"] <= total, (who, body["count"], total)
    monkeypatch.setattr(selectors, "COUNT_BUDGET", 10_001)
    monkeypatch.setattr(selectors, "COUNT_STREAM_MIN", 1_000)
    body = as_(world.leader).get("/cases", category="env", limit=2).json()
    total = selectors.cases_visible(world.leader).filter(category__in=[catalogue["garbage"], catalogue["dispute"]])
    assert (body["count"], body["count_capped"]) == (total.count(), False)


def test_a_user_without_case_scope_searches_an_empty_list(as_, cases, way):
    """No grant at all: every way of searching answers an empty page (never a server error)."""
    from django.contrib.auth import get_user_model

    nobody = get_user_model().objects.create_user(username="nobody", password="jiedao-Test-2026")
    response = as_(nobody).get("/cases", q="垃圾", limit=2)
    assert response.status_code == 200, response.content
    assert (response.json()["items"], response.json()["count"]) == ([], 0)
