"""Full-text search over titles and descriptions (jiedao.cases.search) and the similar-case check
through the same index, as the named users of tests/conftest.py; on SQLite (FTS5) and
PostgreSQL (GIN over the terms). Out-of-scope cases never come back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from jiedao.cases import search, services
from jiedao.cases.models import DESCRIPTION_MAX, Case, CaseText, Source, State
from jiedao.insight import selectors as insight_selectors

pytestmark = pytest.mark.django_db

MANHOLE = ("井盖", "东门路与解放路交叉口的井盖松动了，电动车压过去咣当响，晚上很危险，请尽快派人加固。")
LAMP = ("路灯", "横塘村村口的三盏路灯坏了一个多月，晚上老人出门看不清路。")


def file(world, texts, *, actor=None, node=None):
    title, description = texts
    return services.case_create(actor=actor or world.worker, source=Source.DOOR_VISIT, node=node or world.grid,
                                title=title, description=description)


def ids(api, **params) -> list[int]:
    response = api.get("/cases", **params)
    assert response.status_code == 200, response.content
    return sorted(c["id"] for c in response.json()["items"])


def test_terms_are_characters_and_bigrams_of_each_text():
    assert search.terms("井盖", "松动！") == "井 井盖 盖 松 松动 动"
    assert search.query_terms("井盖松动") == ["井盖", "盖松", "松动"]
    assert search.query_terms("井") == ["井"]
    assert search.query_terms("！？ \x00\u202e") == []
    assert len(search.query_terms("很" * 3 + "".join(chr(0x4E00 + i) for i in range(300)))) == search.MAX_QUERY_TERMS


def test_a_word_from_the_description_finds_the_case_within_scope(world, as_):
    worker, other, secretary, village = (as_(getattr(world, n)) for n in
                                         ("worker", "other_worker", "secretary", "village_worker"))
    manhole = file(world, MANHOLE)
    lamp = file(world, LAMP, actor=world.village_worker, node=world.village_grid)
    assert CaseText.objects.get(case=manhole).terms == search.terms(*MANHOLE)

    assert ids(worker, q="电动车") == [manhole.pk]  # a word only the description has
    assert ids(secretary, q="松动") == [manhole.pk]
    assert ids(worker, q="井") == [manhole.pk]  # one character
    assert ids(worker, q="危") == [manhole.pk]
    assert ids(worker, q=manhole.ticket) == [manhole.pk]  # the ticket, exactly
    assert ids(worker, q=manhole.ticket.lower()) == [manhole.pk]
    assert ids(worker, q="井盖，松动！") == [manhole.pk]  # punctuation is not a word
    assert ids(worker, q=MANHOLE[1][:100]) == [manhole.pk]  # a long query: the whole description
    assert ids(worker, q="松动的路灯") == []  # every word must be there
    assert ids(worker, q="路灯") == []  # the village's case is out of the worker's scope …
    assert ids(village, q="路灯") == [lamp.pk]  # … but found by its own grid
    assert ids(other, q="电动车") == [] and ids(other, q="井") == []  # another grid: never returned
    assert ids(other, q=manhole.ticket) == []
    assert ids(village, q="井盖") == []
    for hostile in ("！？", "\x00井盖", "井\x00盖", '"井" OR 路', "井*", "a:b", "'", "\\", "NOT 井"):
        response = worker.get("/cases", q=hostile)
        assert response.status_code in (200, 400), (hostile, response.status_code)
    assert ids(worker, q="！？") == []


def test_the_staff_case_list_page_searches_the_description(world, client):
    manhole = file(world, MANHOLE)
    client.force_login(world.secretary)
    page = client.get(reverse("cases:list"), {"q": "加固"})
    assert page.status_code == 200 and manhole.ticket in page.content.decode()
    client.force_login(world.other_worker)
    assert manhole.ticket not in client.get(reverse("cases:list"), {"q": "加固"}).content.decode()


def test_descriptions_up_to_the_limit_and_their_checks_by_post(world, as_, client):
    worker = as_(world.worker)
    long_text = ("小区北门外的排水沟堵塞，每逢下雨污水漫到人行道上，" * 400)[:DESCRIPTION_MAX]
    response = worker.post("/cases", {"node": world.grid.pk, "source": "door_visit", "description": long_text})
    assert response.status_code == 201, response.content
    assert Case.objects.get(pk=response.json()["id"]).description == long_text
    too_long = worker.post("/cases", {"node": world.grid.pk, "source": "door_visit", "description": long_text + "。"})
    assert too_long.status_code in (400, 422) and "description" in too_long.content.decode()

    found = worker.post("/insight/similar", {"node": world.grid.pk, "text": long_text})
    assert found.status_code == 200, found.content
    assert [s["case"]["id"] for s in found.json()] == [response.json()["id"]]
    assert worker.post("/insight/suggest", {"description": long_text}).status_code == 200

    client.force_login(world.worker)
    page = client.post(reverse("cases:similar"), {"node": world.grid.pk, "description": long_text})
    assert page.status_code == 200 and response.json()["ticket"] in page.content.decode()
    assert client.post(reverse("cases:suggest"), {"description": long_text}).status_code == 200
    assert client.get(reverse("cases:similar"), {"node": world.grid.pk}).status_code == 405
    client.logout()
    assert client.post(reverse("insight:public_suggest"), {"description": long_text}).status_code == 200


def _bulk(world, n: int, *, node, text, when) -> list[Case]:
    """n cases in one bulk_create, indexed through search.index_cases (no per-case services)."""
    cases = [Case(ticket=f"20260101-T{k:07d}", source=Source.DOOR_VISIT, state=State.REPORTED, node=node,
                  org_path=node.path, subdistrict=world.subdistrict, community=world.community, grid=node,
                  title=f"{text[0]}{k}", description=f"{text[1]}（第 {k} 件）", level=1)
             for k in range(n)]
    made = Case.objects.bulk_create(cases)
    Case.objects.filter(pk__in=[c.pk for c in made]).update(created_at=when)
    search.index_cases(made)
    return made


def test_similar_finds_an_exact_duplicate_600_cases_back_and_a_year_back_in_scope(world):
    now = timezone.now()
    original = file(world, MANHOLE)
    Case.objects.filter(pk=original.pk).update(created_at=now - timedelta(days=20))
    elsewhere = file(world, MANHOLE, actor=world.other_worker, node=world.other_grid)
    Case.objects.filter(pk=elsewhere.pk).update(created_at=now - timedelta(days=200))
    outside = file(world, MANHOLE, actor=world.village_worker, node=world.village_grid)
    _bulk(world, 600, node=world.grid, text=LAMP, when=now - timedelta(days=1))  # 600 newer, same grid

    found = insight_selectors.similar_for_text(world.worker, node=world.grid, title=MANHOLE[0], text=MANHOLE[1])
    assert [s.case.pk for s in found][:1] == [original.pk]
    assert found[0].same_problem
    # the secretary sees both grids: the 200-day-old one in the other grid too, never the village's
    found = insight_selectors.similar_for_text(world.secretary, node=world.grid, title=MANHOLE[0], text=MANHOLE[1])
    assert {original.pk, elsewhere.pk} <= {s.case.pk for s in found}
    assert outside.pk not in {s.case.pk for s in found}
    # on the case page: the earlier ones only
    later = file(world, MANHOLE)
    assert original.pk in {s.case.pk for s in insight_selectors.similar_for_case(world.worker, later)}


def test_the_migration_indexes_every_case(world):
    manhole = file(world, MANHOLE)
    CaseText.objects.all().delete()
    assert search.index_all() == Case.objects.count()
    assert list(Case.objects.filter(pk__in=search.matching_ids("电动车"))) == [manhole]


def test_the_forms_post_their_texts_for_the_hints(world, client):
    for user, name in ((world.worker, "cases:new"), (world.secretary, "cases:hotline")):
        client.force_login(user)
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        page = response.content.decode()
        assert f'hx-post="{reverse("cases:similar")}"' in page and f'hx-post="{reverse("cases:suggest")}"' in page
        assert f'hx-get="{reverse("cases:similar")}"' not in page
    client.logout()
    page = client.get(reverse("cases:public_report")).content.decode()
    assert f'hx-post="{reverse("insight:public_suggest")}"' in page and "X-CSRFToken" in page
