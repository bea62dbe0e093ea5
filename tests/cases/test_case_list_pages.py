"""The case list one keyset page at a time (issue 14): a page costs the same number of queries
whatever the scope holds, the cursor pages through without duplicates or misses while new cases
arrive, stays inside the caller's scope, and a bad cursor answers 400 naming `cursor`."""

import base64
import secrets

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from jiedao.cases import selectors, services
from jiedao.cases.models import Case, Source

BASE = "/api/v1"


def file_case(world, catalogue, *, node=None, actor=None, title="楼下垃圾三天没人清运"):
    return services.case_create(actor=actor or world.worker, source=Source.DOOR_VISIT, node=node or world.grid,
                                building=world.building if node is None else None, title=title,
                                description=f"{title}，请尽快处理。", category=catalogue["garbage"], suggest=False)


def copies(case, n):
    """n more cases like `case` (bulk: the list reads rows, not how they were filed)."""
    rows = []
    for _ in range(n):
        row = Case.objects.get(pk=case.pk)
        row.pk = None
        row.ticket = f"20260101-{secrets.token_hex(4).upper()}"
        rows.append(row)
    Case.objects.bulk_create(rows)


def api_queries(api, **params):
    api.get("/cases", **params)  # warm the per-process caches
    with CaptureQueriesContext(connection) as ctx:
        response = api.get("/cases", **params)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


@pytest.mark.parametrize("who", ["worker", "secretary", "leader"])
def test_a_page_costs_the_same_queries_at_any_size(world, catalogue, as_, who):
    api = as_(getattr(world, who))
    first = file_case(world, catalogue)
    copies(first, 4)
    few, body = api_queries(api, limit=50)
    assert len(body["items"]) == 5 and body["count"] == 5
    copies(first, 55)
    many, body = api_queries(api, limit=50)
    assert len(body["items"]) == 50 and body["count"] == 60 and body["next_cursor"]
    # the same queries, plus the (capped) count: a list that fits on its first page needs none
    assert many == few + 1
    assert body["items"][0]["node_name"] == world.grid.name and body["items"][0]["category_name"]


def test_the_staff_page_costs_the_same_queries_at_any_size(client, world, catalogue):
    client.force_login(world.secretary)
    first = file_case(world, catalogue)

    def page_queries():
        client.get(reverse("cases:list"))
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("cases:list"))
        assert response.status_code == 200
        return len(ctx.captured_queries), response

    few, _response = page_queries()
    copies(first, 60)
    many, response = page_queries()
    # the same queries, plus the (capped) count: a list that fits on its first page needs none
    assert many == few + 1
    assert len(response.context["rows"]) == 50 and 'rel="next"' in response.content.decode()


def test_cursor_pages_without_duplicates_or_misses_while_cases_arrive(world, catalogue, as_):
    api = as_(world.secretary)
    first = file_case(world, catalogue)
    copies(first, 6)
    everything = sorted(Case.objects.values_list("pk", flat=True), reverse=True)
    seen, cursor, pages = [], None, 0
    while True:
        body = api.get("/cases", limit=3, **({"cursor": cursor} if cursor else {})).json()
        assert (body["count"] is None) == bool(cursor)  # the first page counts, cursor pages do not
        seen += [item["id"] for item in body["items"]]
        if pages == 0:
            copies(first, 2)  # new cases arrive while the user pages on: they belong to a new first page
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == everything and pages == 3
    assert api.get("/cases", limit=3, cursor=selectors.encode_cursor(everything[2]), count="true").json()["count"] == 9
    # offset still works for old clients
    assert [i["id"] for i in api.get("/cases", limit=2, offset=2).json()["items"]] == sorted(
        Case.objects.values_list("pk", flat=True), reverse=True)[2:4]


def test_cursor_stays_in_scope(world, catalogue, as_):
    mine = file_case(world, catalogue)
    theirs = file_case(world, catalogue, actor=world.other_worker, node=world.other_grid, title="二网格井盖缺失")
    copies(mine, 2)
    worker = as_(world.worker)
    body = worker.get("/cases", limit=1).json()
    ids = [body["items"][0]["id"]]
    while body["next_cursor"]:
        body = worker.get("/cases", limit=1, cursor=body["next_cursor"]).json()
        ids += [item["id"] for item in body["items"]]
    assert theirs.pk not in ids and len(ids) == 3
    # a cursor is only a position: from any point the caller still lists only their own cases
    after = worker.get("/cases", cursor=selectors.encode_cursor(theirs.pk + 1)).json()
    assert [item["id"] for item in after["items"]] == [pk for pk in ids if pk <= theirs.pk]
    assert as_(world.other_worker).get("/cases", cursor=selectors.encode_cursor(10**9)).json()["items"][0]["id"] == theirs.pk


@pytest.mark.parametrize("cursor", ["nonsense", base64.urlsafe_b64encode(b"v1:-3").decode(),
                                    base64.urlsafe_b64encode(b"v2:12").decode(), "djE6", "%%%"])
def test_bad_cursor_is_refused_naming_it(world, catalogue, as_, client, cursor):
    file_case(world, catalogue)
    response = as_(world.worker).get("/cases", cursor=cursor)
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "cursor" and "cursor" in body["detail"] and "游标" in body["detail"]
    # the staff page shows the first page instead of an error
    client.force_login(world.worker)
    assert client.get(reverse("cases:list"), {"cursor": cursor}).status_code == 200


def test_the_staff_page_escapes_what_residents_wrote(client, world, catalogue):
    """The rows are built as one string in the view (cases.views._rows_html): every value escaped."""
    file_case(world, catalogue, title='<script>alert("x")</script>楼下 & 垃圾')
    client.force_login(world.secretary)
    page = client.get(reverse("cases:list")).content.decode()
    assert '<script>alert("x")</script>' not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;楼下 &amp; 垃圾" in page
    assert 'data-label="标题"' in page and "暴露垃圾" in page


def test_the_staff_page_counts_and_pages_a_filtered_list(client, world, catalogue):
    first = file_case(world, catalogue)
    copies(first, 54)
    client.force_login(world.leader)
    response = client.get(reverse("cases:list"), {"category": catalogue["garbage"].pk})
    body = response.content.decode()
    assert len(response.context["rows"]) == 50 and "共 55 条" in body and 'rel="next"' in body
    second = client.get(reverse("cases:list"), {"category": catalogue["garbage"].pk,
                                                "cursor": response.context["next_cursor"]})
    assert len(second.context["rows"]) == 5 and second.context["count"] is None
    assert not {r["id"] for r in second.context["rows"]} & {r["id"] for r in response.context["rows"]}
    assert client.get(reverse("cases:list"), {"category": catalogue["dispute"].pk}).context["rows"] == []
    client.force_login(world.other_worker)  # the same filter out of scope: none of them
    assert client.get(reverse("cases:list"), {"category": catalogue["garbage"].pk}).context["rows"] == []


def test_a_user_with_no_case_scope_gets_an_empty_list_not_an_error(world, catalogue, as_):
    from jiedao.org.models import User

    file_case(world, catalogue)
    nobody = User.objects.create_user(username="no_scope", password="x" * 12, full_name="无范围", home_node=world.grid)
    api = as_(nobody)
    for query in ({"q": "垃圾"}, {"state": "reported", "count": "true", "offset": 1}, {"tier": "public", "count": "true"}):
        response = api.get("/cases", **query)
        assert response.status_code == 200, (query, response.content)
        assert response.json()["items"] == []


def test_offset_beyond_ten_thousand_is_refused_naming_the_field(world, as_):
    response = as_(world.leader).get("/cases", offset=10_001)
    assert response.status_code == 422 and "offset" in response.content.decode()
