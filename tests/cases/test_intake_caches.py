"""The per-process caches behind the intake (jiedao.core.caching) and what intake does.

A change made through a service is seen by the very next request (the services bump the cache
generation in their transaction); a change made behind the services' back (a bare ORM update,
as another process's write looks to this process's cache) is seen as soon as the generation
moves, or after MAX_AGE. Every test first shows the cache really serves the old value, so none
of them can pass with the cache switched off or broken.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiedao.cases.models import Case, CaseTransition, Category, RoutingRule
from jiedao.core import caching
from jiedao.core.models import ApiToken
from jiedao.org.models import OrgNode, RoleAssignment
from tests.cases.test_api import is_chinese

BODY = {"source": "door_visit", "title": "楼下垃圾三天没人清运", "description": "1幢楼下垃圾堆放，臭气熏天",
        "category": "garbage", "reporter_phone": "13812345678"}


def file(api, world, **change):
    return api.post("/cases", {**BODY, "node": world.grid.pk, "building": world.building.pk, **change})


# --- tokens -------------------------------------------------------------------------------------


def test_revoked_token_stops_at_the_next_request(world, catalogue, as_):
    worker = as_(world.worker)
    assert file(worker, world).status_code == 201
    token = ApiToken.objects.get(user=world.worker, name="测试")
    response = worker.delete(f"/tokens/{token.pk}")
    assert response.status_code == 204
    refused = file(worker, world)
    assert refused.status_code == 401 and refused.json()["code"] == "unauthenticated"


def test_a_revocation_by_another_process_is_seen_once_the_generation_moves(world, catalogue, as_):
    worker = as_(world.worker)
    assert file(worker, world).status_code == 201
    # Another process revoking the token: the row changes, this process's cache is not told...
    ApiToken.objects.filter(user=world.worker).update(revoked_at=timezone.now())
    assert file(worker, world).status_code == 201  # ...so the cached token is still accepted here
    caching.bump()  # what token_revoke does in that other process, in the same transaction
    assert file(worker, world).status_code == 401


def test_nothing_is_cached_longer_than_max_age(world, catalogue, as_, monkeypatch):
    worker = as_(world.worker)
    assert file(worker, world).status_code == 201
    ApiToken.objects.filter(user=world.worker).update(revoked_at=timezone.now())
    assert file(worker, world).status_code == 201
    monkeypatch.setattr(caching, "MAX_AGE", 0.0)
    assert file(worker, world).status_code == 401


def test_a_deactivated_user_token_stops_at_once(world, catalogue, as_):
    worker, admin = as_(world.worker), as_(world.admin)
    assert file(worker, world).status_code == 201
    assert admin.patch(f"/users/{world.worker.pk}", {"is_active": False}).status_code == 200
    assert file(worker, world).status_code == 401


# --- roles --------------------------------------------------------------------------------------


def test_a_removed_role_stops_at_once(world, catalogue, as_):
    worker, admin = as_(world.worker), as_(world.admin)
    assert file(worker, world).status_code == 201
    assignment = RoleAssignment.objects.get(user=world.worker)
    assert admin.delete(f"/users/{world.worker.pk}/roles/{assignment.pk}").status_code == 204
    refused = file(worker, world)
    assert refused.status_code == 404 and refused.json()["field"] == "node"  # no longer sees the grid


def test_a_role_moved_elsewhere_is_seen_once_the_generation_moves(world, catalogue, as_):
    worker = as_(world.worker)
    assert file(worker, world).status_code == 201
    RoleAssignment.objects.filter(user=world.worker).update(node=world.other_grid)  # "another process"
    assert file(worker, world).status_code == 201  # cached: still the old grid
    caching.bump()
    assert file(worker, world).status_code == 404
    assert file(worker, world, node=world.other_grid.pk, building=None).status_code == 201


# --- org nodes and the catalogue ----------------------------------------------------------------


def test_an_org_node_edit_is_seen_at_once(world, catalogue, as_):
    worker, admin = as_(world.worker), as_(world.admin)
    assert file(worker, world).json()["grid_name"] == "东门第一网格"
    response = admin.patch(f"/org/nodes/{world.grid.pk}", {"name": "东门一网格"})
    assert response.status_code == 200, response.content
    assert file(worker, world).json()["grid_name"] == "东门一网格"


def test_a_node_renamed_behind_the_services_back_is_seen_once_the_generation_moves(world, catalogue, as_):
    worker = as_(world.worker)
    assert file(worker, world).json()["node_name"] == "东门第一网格"
    OrgNode.objects.filter(pk=world.grid.pk).update(name="东门一网格")
    assert file(worker, world).json()["node_name"] == "东门第一网格"
    caching.bump()
    assert file(worker, world).json()["node_name"] == "东门一网格"


def test_a_deactivated_category_is_refused_at_once(world, catalogue, as_):
    from jiedao.cases.catalogue import services as catalogue_services

    worker = as_(world.worker)
    assert file(worker, world).status_code == 201
    # The catalogue is edited on its administration page, which calls this service.
    catalogue_services.category_update(actor=world.admin, category=catalogue["garbage"], is_active=False)
    refused = file(worker, world)
    assert refused.status_code == 400 and refused.json()["field"] == "category" and is_chinese(refused.json()["detail"])


def test_a_category_edited_behind_the_services_back_is_seen_once_the_generation_moves(world, catalogue, as_):
    worker = as_(world.worker)
    assert file(worker, world).json()["category_name"] == "暴露垃圾"
    Category.objects.filter(pk=catalogue["garbage"].pk).update(name="垃圾堆放")
    assert file(worker, world).json()["category_name"] == "暴露垃圾"
    caching.bump()
    assert file(worker, world).json()["category_name"] == "垃圾堆放"


def test_a_routing_rule_change_is_seen_at_once(world, catalogue, as_):
    from jiedao.cases.catalogue import services as catalogue_services

    worker = as_(world.worker)
    first = file(worker, world).json()
    assert first["transitions"][0]["data"]["route"] == "城建办"
    catalogue_services.routing_rule_set(actor=world.admin, category=catalogue["garbage"], node=world.community, department=None)
    second = file(worker, world).json()
    assert "route" not in second["transitions"][0]["data"]  # the community handles it now
    assert RoutingRule.objects.filter(category=catalogue["garbage"]).count() == 2


# --- what intake does ---------------------------------------------------------------------------


def test_intake_without_a_category_files_it_under_the_suggested_one(world, catalogue, as_):
    Category.objects.filter(pk=catalogue["garbage"].pk).update(keywords="垃圾 清运 堆放")
    Category.objects.exclude(pk__in=[c.pk for c in catalogue.values()]).update(is_active=False)  # the seeded ones
    caching.clear()  # bare ORM updates: the catalogue cache is not told
    worker = as_(world.worker)
    response = file(worker, world, category=None)
    assert response.status_code == 201, response.content
    case = response.json()
    assert case["category_code"] == "garbage" and case["tier"] == "public"  # the category's default tier
    data = case["transitions"][0]["data"]
    assert data["suggested"]["category"] == "garbage" and 0.5 <= data["suggested"]["confidence"] < 1
    assert data["route"] == "城建办"  # routed like any garbage case
    assert case["deadline_at"] is None  # the clock starts at dispatch
    stored = CaseTransition.objects.get(case_id=case["id"], seq=0)
    assert stored.data == data


def test_intake_leaves_the_category_empty_when_no_suggestion_is_confident(world, catalogue, as_):
    worker = as_(world.worker)
    response = file(worker, world, category=None, title="情况反映", description="有件事想请社区帮忙看看")
    assert response.status_code == 201, response.content
    assert response.json()["category_code"] is None and response.json()["tier"] == ""
    assert "suggested" not in response.json()["transitions"][0]["data"]


def test_the_201_is_the_case_as_stored(world, catalogue, as_):
    worker = as_(world.worker)
    created = file(worker, world, latitude=29.123456, longitude=121.654321, address="东门路1号").json()
    detail = worker.get(f"/cases/{created['id']}").json()
    assert created == detail


def test_a_warm_intake_reads_nothing_it_has_cached(world, catalogue, as_):
    worker = as_(world.worker)
    assert file(worker, world).status_code == 201
    with CaptureQueriesContext(connection) as queries:
        response = file(worker, world)
    assert response.status_code == 201
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    # the cache generation, and the audit chain head locked for the hash chain: nothing else
    # (on PostgreSQL the head is locked and read within the intake's one statement)
    assert len(selects) == (1 if connection.vendor == "postgresql" else 2), selects
    assert Case.objects.filter(reported_by=world.worker).count() == 2


@pytest.mark.parametrize("who", ["other_worker", "village_worker", "handler"])
def test_cached_nodes_are_still_scoped(world, catalogue, as_, who):
    api = as_(world.worker)
    assert file(api, world).status_code == 201  # the worker's grid and building are now cached
    outsider = as_(getattr(world, who))
    counts = Case.objects.count()
    response = file(outsider, world)
    assert response.status_code in (403, 404)
    if who != "handler":  # a handler sees the tree but may not file
        assert response.status_code == 404 and response.json()["field"] == "node"
    assert Case.objects.count() == counts


def test_the_case_page_shows_the_route_and_the_suggestion(world, catalogue, client, as_):
    Category.objects.filter(pk=catalogue["garbage"].pk).update(keywords="垃圾 清运 堆放")
    Category.objects.exclude(pk__in=[c.pk for c in catalogue.values()]).update(is_active=False)
    caching.clear()
    case = file(as_(world.worker), world, category=None).json()
    client.force_login(world.worker)
    page = client.get(f"/cases/{case['id']}/").content.decode()
    assert "类别由系统建议" in page and "按派遣规则应派至 城建办" in page
