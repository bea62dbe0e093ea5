"""The org, department, user and role endpoints through HTTP, as the named users of the world.

Every scoped endpoint has a negative test: an object outside the caller's subtree answers 404
with exactly the body of a missing id; a visible object the caller may not change answers 403;
refused writes change nothing (rows and audit events are counted before and after).
"""

import re

import pytest

from jiedao.core.models import AuditEvent
from jiedao.org.models import Department, OrgNode, RoleAssignment, User

BASE = "/api/v1"
MISSING = 987654
NOT_FOUND = {"detail": "未找到该对象。", "field": None, "code": "not_found"}
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[121.60, 29.40], [121.61, 29.40], [121.61, 29.41], [121.60, 29.41], [121.60, 29.40]]],
}


def names(response):
    assert response.status_code == 200, response.content
    return sorted(item["name"] for item in response.json()["items"])


def is_chinese(text):
    return bool(re.search(r"[\u4e00-\u9fff]", text))


class Counts:
    """Row counts of everything an org write could touch, to prove a refusal changed nothing."""

    def __init__(self):
        self.before = self.snapshot()

    @staticmethod
    def snapshot():
        return {
            "nodes": OrgNode.objects.count(),
            "departments": Department.objects.count(),
            "users": User.objects.count(),
            "roles": RoleAssignment.objects.count(),
            # the tokens the test hands out are set-up, not effects of the request under test
            "audit": AuditEvent.objects.exclude(action="core.token.create").count(),
        }

    def unchanged(self):
        return self.snapshot() == self.before


# --- nodes: reading ---------------------------------------------------------------------------


def test_worker_lists_only_own_grid_subtree(world, as_):
    response = as_(world.worker).get("/org/nodes")
    assert names(response) == sorted(["东门第一网格", "一号微网格", "1幢"])
    assert response.json()["count"] == 3


def test_secretary_cannot_see_village_nodes(world, as_):
    api = as_(world.secretary)
    visible = names(api.get("/org/nodes"))
    assert "东门第二网格" in visible and "东门社区" in visible
    assert "横塘村" not in visible and "横塘第一网格" not in visible and "丹西街道" not in visible
    village = api.get(f"/org/nodes/{world.village.pk}")
    assert village.status_code == 404 and village.json() == NOT_FOUND


def test_handler_and_leader_see_the_whole_subdistrict(world, as_):
    total = OrgNode.objects.count()
    for user in (world.handler, world.leader):
        api = as_(user)
        assert api.get("/org/nodes").json()["count"] == total
        assert api.get(f"/org/nodes/{world.subdistrict.pk}").status_code == 200


def test_out_of_scope_node_is_indistinguishable_from_missing(world, as_):
    api = as_(world.worker)
    other = api.get(f"/org/nodes/{world.other_grid.pk}")
    missing = api.get(f"/org/nodes/{MISSING}")
    assert other.status_code == missing.status_code == 404
    assert other.content == missing.content
    assert other.json() == NOT_FOUND


def test_node_output_fields(world, as_):
    world.grid.boundary = SQUARE
    world.grid.save(update_fields=["boundary"])
    api = as_(world.worker)
    items = {n["name"]: n for n in api.get("/org/nodes").json()["items"]}
    grid = items["东门第一网格"]
    assert grid["kind"] == "grid" and grid["kind_label"] == "网格"
    assert grid["parent_id"] == world.community.pk and grid["code"] == "330225002001001"
    assert grid["has_boundary"] is True and "boundary" not in grid
    assert items["1幢"]["has_boundary"] is False and items["1幢"]["floors"] == 6
    detail = api.get(f"/org/nodes/{world.grid.pk}").json()
    assert detail["boundary"] == SQUARE
    assert detail["counts"] == {"microgrid": 1, "building": 1}


def test_node_list_filters(world, as_):
    api = as_(world.admin)
    assert names(api.get("/org/nodes", kind="grid")) == sorted(["东门第一网格", "东门第二网格", "横塘第一网格"])
    assert names(api.get("/org/nodes", parent=world.community.pk)) == sorted(["东门第一网格", "东门第二网格"])
    assert names(api.get("/org/nodes", subtree_of=world.grid.pk)) == sorted(["东门第一网格", "一号微网格", "1幢"])
    assert names(api.get("/org/nodes", q="横塘")) == sorted(["横塘村", "横塘第一网格"])
    assert names(api.get("/org/nodes", q="330225002201")) == sorted(["横塘村", "横塘第一网格"])


def test_node_list_filter_on_an_invisible_node_is_404(world, as_):
    api = as_(world.worker)
    for field in ("parent", "subtree_of"):
        other = api.get("/org/nodes", **{field: world.other_grid.pk})
        missing = api.get("/org/nodes", **{field: MISSING})
        assert other.status_code == missing.status_code == 404
        assert other.json() == missing.json() == {**NOT_FOUND, "field": field}


def test_node_list_pagination(world, as_):
    api = as_(world.admin)
    everything = [n["name"] for n in api.get("/org/nodes").json()["items"]]
    page = api.get("/org/nodes", limit=2, offset=3).json()
    assert page["count"] == len(everything) == 8
    assert [n["name"] for n in page["items"]] == everything[3:5]
    for bad in ({"limit": 501}, {"limit": 0}, {"offset": -1}, {"limit": "many"}):
        response = api.get("/org/nodes", **bad)
        assert response.status_code == 422, bad
        assert response.json()["field"] == next(iter(bad))
        assert is_chinese(response.json()["detail"])
    assert api.get("/org/nodes", limit=500).status_code == 200


def test_node_children(world, as_):
    body = as_(world.secretary).get(f"/org/nodes/{world.community.pk}/children").json()
    assert [(n["name"], n["child_count"]) for n in body["items"]] == [("东门第一网格", 1), ("东门第二网格", 0)]
    worker = as_(world.worker)
    assert names(worker.get(f"/org/nodes/{world.grid.pk}/children")) == ["一号微网格"]
    other = worker.get(f"/org/nodes/{world.community.pk}/children")
    assert other.status_code == 404 and other.json() == NOT_FOUND


def test_node_people(world, as_):
    body = as_(world.worker).get(f"/org/nodes/{world.grid.pk}/people").json()
    assert [(p["username"], p["role"], p["role_label"]) for p in body["items"]] == [
        ("worker", "grid_worker", "网格员")
    ]
    assert "password" not in body["items"][0]
    handler = as_(world.leader).get(f"/org/nodes/{world.subdistrict.pk}/people").json()
    assert ("handler", "城建办") in [(p["username"], p["department_name"]) for p in handler["items"]]
    other = as_(world.worker).get(f"/org/nodes/{world.other_grid.pk}/people")
    assert other.status_code == 404 and other.json() == NOT_FOUND


# --- nodes: writing ---------------------------------------------------------------------------


def test_admin_creates_a_node(world, as_):
    api = as_(world.admin)
    response = api.post("/org/nodes", {
        "parent": world.community.pk, "kind": "grid", "name": "东门第三网格", "code": "330225002001003",
        "boundary": SQUARE, "address": "东门路 3 号",
    })
    assert response.status_code == 201, response.content
    body = response.json()
    node = OrgNode.objects.get(pk=body["id"])
    assert (node.name, node.kind, node.parent_id, node.boundary) == ("东门第三网格", "grid", world.community.pk, SQUARE)
    assert body["boundary"] == SQUARE and body["has_boundary"] is True and body["kind_label"] == "网格"
    event = AuditEvent.objects.filter(action="org.node.create", object_id=str(node.pk)).get()
    assert event.actor_id == world.admin.pk and event.after["name"] == "东门第三网格"
    assert "东门第三网格" in names(as_(world.secretary).get("/org/nodes", kind="grid"))


def test_admin_creates_a_building_with_floors(world, as_):
    response = as_(world.admin).post("/org/nodes", {
        "parent": world.microgrid.pk, "kind": "building", "name": "2幢", "floors": 18, "units": 3,
    })
    assert response.status_code == 201, response.content
    assert OrgNode.objects.get(pk=response.json()["id"]).floors == 18


def test_worker_may_not_create_nodes(world, as_):
    api = as_(world.worker)
    counts = Counts()
    own = api.post("/org/nodes", {"parent": world.microgrid.pk, "kind": "building", "name": "9幢"})
    assert own.status_code == 403
    assert own.json() == {"detail": "您没有执行此操作的权限。", "field": None, "code": "forbidden"}
    other = api.post("/org/nodes", {"parent": world.other_grid.pk, "kind": "building", "name": "9幢"})
    missing = api.post("/org/nodes", {"parent": MISSING, "kind": "building", "name": "9幢"})
    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json() == {**NOT_FOUND, "field": "parent"}
    assert counts.unchanged()


def test_secretary_may_not_create_nodes_in_own_community(world, as_):
    counts = Counts()
    response = as_(world.secretary).post("/org/nodes", {"parent": world.community.pk, "kind": "grid", "name": "新网格"})
    assert response.status_code == 403
    assert counts.unchanged()


def test_only_superuser_creates_root_nodes(world, as_):
    counts = Counts()
    response = as_(world.admin).post("/org/nodes", {"kind": "subdistrict", "name": "另一个街道"})
    assert response.status_code == 403
    assert counts.unchanged()
    created = as_(world.root).post("/org/nodes", {"kind": "subdistrict", "name": "另一个街道"})
    assert created.status_code == 201 and created.json()["parent_id"] is None


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"code": "3302250020010"}, 400, "code"),  # 13 digits: a grid code has 15
        ({"code": "330225009999003"}, 400, "code"),  # does not extend the community's code
        ({"code": "330225002001002"}, 409, "code"),  # the code of 东门第二网格
        ({"name": "东门第二网格"}, 409, "name"),  # a sibling already has this name
        ({"name": "   "}, 400, "name"),
        ({"name": "网" * 65}, 400, "name"),
        ({"kind": "castle"}, 422, "kind"),
        ({"kind": "building"}, 400, "kind"),  # a community holds grids, not buildings
        ({"floors": 5}, 400, "floors"),  # only buildings have floors
        ({"floors": "five"}, 422, "floors"),
        ({"floors": 2.5}, 422, "floors"),
        ({"name": 42}, 422, "name"),
        ({"parent": "东门社区"}, 422, "parent"),
        ({"sort_order": -1}, 422, "sort_order"),
        ({"boundary": [1, 2]}, 422, "boundary"),
        ({"boundary": {"type": "Point", "coordinates": [121.6, 29.4]}}, 400, "boundary"),
        ({"boundary": {"type": "Polygon", "coordinates": [SQUARE["coordinates"][0][:-1]]}}, 400, "boundary"),
        ({"boundary": {"type": "Polygon", "coordinates": [[[1, 1], [2, 1], [2, 2], [1, 1.5]]]}}, 400, "boundary"),
        ({"boundary": {"type": "Polygon", "coordinates": [[[500, 1], [2, 1], [2, 2], [500, 1]]]}}, 400, "boundary"),
        ({"colour": "red"}, 422, "colour"),
    ],
)
def test_create_node_bad_input(world, as_, change, status, field):
    api = as_(world.admin)
    counts = Counts()
    payload = {"parent": world.community.pk, "kind": "grid", "name": "东门第三网格", "code": "330225002001003"}
    payload.update(change)
    response = api.post("/org/nodes", payload)
    assert response.status_code == status, response.content
    body = response.json()
    assert body["field"] == field
    assert is_chinese(body["detail"])
    assert counts.unchanged()


def test_create_node_missing_fields_and_malformed_json(world, as_):
    api = as_(world.admin)
    counts = Counts()
    missing = api.post("/org/nodes", {"parent": world.community.pk, "kind": "grid"})
    assert missing.status_code == 422
    assert missing.json()["field"] == "name"
    assert missing.json()["detail"] == "字段 name：不能为空。"
    malformed = api.post("/org/nodes", '{"parent": 2, "kind": "grid", "name": "x"')
    assert malformed.status_code == 400
    assert malformed.json()["code"] == "malformed_json" and is_chinese(malformed.json()["detail"])
    empty = api.post("/org/nodes", "")
    assert empty.status_code == 422 and empty.json()["field"] is None
    assert counts.unchanged()


def test_admin_updates_a_node(world, as_):
    api = as_(world.admin)
    response = api.patch(f"/org/nodes/{world.grid.pk}", {"name": "东门一网格", "address": "东门路 1 号"})
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "东门一网格"
    world.grid.refresh_from_db()
    assert (world.grid.name, world.grid.address, world.grid.code) == ("东门一网格", "东门路 1 号", "330225002001001")
    event = AuditEvent.objects.filter(action="org.node.update", object_id=str(world.grid.pk)).get()
    assert event.before == {"name": "东门第一网格", "address": ""}
    assert event.after == {"name": "东门一网格", "address": "东门路 1 号"}


def test_patch_sets_and_clears_the_boundary(world, as_):
    api = as_(world.admin)
    assert api.patch(f"/org/nodes/{world.grid.pk}", {"boundary": SQUARE}).json()["has_boundary"] is True
    world.grid.refresh_from_db()
    assert world.grid.boundary == SQUARE
    assert api.patch(f"/org/nodes/{world.grid.pk}", {"boundary": None}).json()["has_boundary"] is False
    world.grid.refresh_from_db()
    assert world.grid.boundary is None


def test_node_update_scope(world, as_):
    counts = Counts()
    worker = as_(world.worker)
    own = worker.patch(f"/org/nodes/{world.grid.pk}", {"name": "改名"})
    assert own.status_code == 403
    other = worker.patch(f"/org/nodes/{world.other_grid.pk}", {"name": "改名"})
    missing = worker.patch(f"/org/nodes/{MISSING}", {"name": "改名"})
    assert other.status_code == missing.status_code == 404 and other.json() == missing.json() == NOT_FOUND
    assert as_(world.secretary).patch(f"/org/nodes/{world.village.pk}", {"name": "改名"}).status_code == 404
    assert OrgNode.objects.filter(name="改名").count() == 0
    assert counts.unchanged()


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"name": None}, 422, "name"),
        ({"is_active": None}, 422, "is_active"),
        ({"is_active": "maybe"}, 422, "is_active"),
        ({"kind": "village"}, 422, "kind"),  # the kind of a node never changes
        ({"parent": 1}, 422, "parent"),  # nor its place in the tree
        ({"name": "东门第二网格"}, 409, "name"),
        ({"code": "12345"}, 400, "code"),
        ({"is_active": False}, 400, "is_active"),  # it still has an active micro-grid
        ({"boundary": {"type": "Polygon", "coordinates": [[[1, 1], [2, 1], [2, 2]]]}}, 400, "boundary"),
    ],
)
def test_update_node_bad_input(world, as_, change, status, field):
    api = as_(world.admin)
    counts = Counts()
    response = api.patch(f"/org/nodes/{world.grid.pk}", change)
    assert response.status_code == status, response.content
    assert response.json()["field"] == field and is_chinese(response.json()["detail"])
    assert counts.unchanged()
    world.grid.refresh_from_db()
    assert (world.grid.name, world.grid.kind, world.grid.is_active) == ("东门第一网格", "grid", True)


# --- departments ------------------------------------------------------------------------------


def test_department_list_is_scoped(world, as_):
    assert names(as_(world.handler).get("/org/departments")) == ["城建办"]
    assert as_(world.worker).get("/org/departments").json() == {"items": [], "count": 0}


def test_admin_creates_a_department(world, as_):
    response = as_(world.admin).post(
        "/org/departments", {"subdistrict": world.subdistrict.pk, "name": "平安办", "kind": "office", "duties": "综治"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["kind_label"] == "科室" and response.json()["subdistrict_name"] == "丹西街道"
    department = Department.objects.get(name="平安办")
    assert department.subdistrict_id == world.subdistrict.pk
    event = AuditEvent.objects.get(action="org.department.create", object_id=str(department.pk))
    assert event.actor_id == world.admin.pk


@pytest.mark.parametrize(
    ("who", "payload", "status", "field"),
    [
        ("admin", {"name": "城建办"}, 409, "name"),
        ("admin", {"name": ""}, 400, "name"),
        ("admin", {"kind": "army"}, 422, "kind"),
        ("admin", {"subdistrict": "community"}, 400, "subdistrict"),
        ("admin", {"subdistrict": MISSING}, 404, "subdistrict"),
        ("leader", {}, 403, None),  # sees the sub-district, may not manage it
        ("worker", {}, 404, "subdistrict"),  # does not even see the sub-district
    ],
)
def test_create_department_refused(world, as_, who, payload, status, field):
    api = as_(getattr(world, who))
    counts = Counts()
    data = {"subdistrict": world.subdistrict.pk, "name": "平安办", **payload}
    if data["subdistrict"] == "community":
        data["subdistrict"] = world.community.pk
    response = api.post("/org/departments", data)
    assert response.status_code == status, response.content
    assert response.json()["field"] == field and is_chinese(response.json()["detail"])
    assert counts.unchanged()


# --- users ------------------------------------------------------------------------------------


def usernames(response):
    assert response.status_code == 200, response.content
    return sorted(u["username"] for u in response.json()["items"])


def test_user_list_is_scoped(world, as_):
    assert usernames(as_(world.secretary).get("/users")) == ["other_worker", "secretary", "worker"]
    assert usernames(as_(world.worker).get("/users")) == []  # grid workers may not list users
    assert len(usernames(as_(world.leader).get("/users"))) == User.objects.exclude(home_node=None).count()


def test_user_list_filters(world, as_):
    api = as_(world.admin)
    assert usernames(api.get("/users", role="grid_worker")) == ["other_worker", "village_worker", "worker"]
    assert usernames(api.get("/users", node=world.village.pk)) == ["village_worker"]
    assert usernames(api.get("/users", q="网格")) == ["other_worker", "village_worker", "worker"]
    world.worker.is_active = False
    world.worker.save(update_fields=["is_active"])
    assert usernames(api.get("/users", active="false")) == ["worker"]
    bad = api.get("/users", role="emperor")
    assert bad.status_code == 422 and bad.json()["field"] == "role"
    secretary = as_(world.secretary)
    other = secretary.get("/users", node=world.village.pk)
    missing = secretary.get("/users", node=MISSING)
    assert other.status_code == missing.status_code == 404 and other.json() == missing.json()


def test_user_detail_and_no_password(world, as_):
    response = as_(world.secretary).get(f"/users/{world.worker.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["full_name"] == "张网格" and body["home_node_name"] == "东门第一网格"
    assert [(a["role"], a["node_name"]) for a in body["assignments"]] == [("grid_worker", "东门第一网格")]
    assert "password" not in body
    assert world.worker.password not in response.content.decode()


def test_out_of_scope_user_is_404_like_missing(world, as_):
    secretary = as_(world.secretary)
    other = secretary.get(f"/users/{world.village_worker.pk}")
    missing = secretary.get(f"/users/{MISSING}")
    assert other.status_code == missing.status_code == 404
    assert other.content == missing.content
    worker = as_(world.worker)
    assert worker.get(f"/users/{world.other_worker.pk}").json() == NOT_FOUND
    assert worker.get(f"/users/{world.worker.pk}").status_code == 404  # grid workers use /me


def test_user_detail_hides_assignments_on_invisible_nodes(world, as_):
    RoleAssignment.objects.create(user=world.worker, role="grid_worker", node=world.village_grid)
    body = as_(world.secretary).get(f"/users/{world.worker.pk}").json()
    assert [a["node_name"] for a in body["assignments"]] == ["东门第一网格"]
    body = as_(world.admin).get(f"/users/{world.worker.pk}").json()
    assert sorted(a["node_name"] for a in body["assignments"]) == ["东门第一网格", "横塘第一网格"]


NEW_USER = {"username": "new_worker", "full_name": "周网格", "password": "Grid-work-2026", "phone": "13800138000"}


def test_admin_creates_a_user(world, as_):
    response = as_(world.admin).post("/users", {**NEW_USER, "home_node": world.other_grid.pk, "email": "z@x.cn"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["username"] == "new_worker" and body["assignments"] == [] and "password" not in body
    user = User.objects.get(username="new_worker")
    assert user.home_node_id == world.other_grid.pk and user.check_password("Grid-work-2026")
    assert user.password not in response.content.decode()
    event = AuditEvent.objects.get(action="org.user.create", object_id=str(user.pk))
    assert event.actor_id == world.admin.pk and "password" not in event.after


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"username": "worker"}, 409, "username"),
        ({"username": "WORKER"}, 409, "username"),
        ({"username": "周 网格"}, 400, "username"),
        ({"password": "12345678"}, 400, "password"),
        ({"password": "short"}, 400, "password"),
        ({"phone": "12345"}, 400, "phone"),
        ({"email": "not-an-email"}, 422, "email"),
        ({"full_name": ""}, 400, "full_name"),
        ({"full_name": None}, 422, "full_name"),
        ({"home_node": MISSING}, 404, "home_node"),
        ({"home_node": "东门"}, 422, "home_node"),
        ({"is_superuser": True}, 422, "is_superuser"),
    ],
)
def test_create_user_bad_input(world, as_, change, status, field):
    api = as_(world.admin)
    counts = Counts()
    response = api.post("/users", {**NEW_USER, "home_node": world.other_grid.pk, **change})
    assert response.status_code == status, response.content
    assert response.json()["field"] == field and is_chinese(response.json()["detail"])
    assert counts.unchanged()


def test_create_user_scope(world, as_):
    counts = Counts()
    secretary = as_(world.secretary)
    visible = secretary.post("/users", {**NEW_USER, "home_node": world.grid.pk})
    assert visible.status_code == 403  # sees the grid, may not manage users
    invisible = secretary.post("/users", {**NEW_USER, "home_node": world.village_grid.pk})
    missing = secretary.post("/users", {**NEW_USER, "home_node": MISSING})
    assert invisible.status_code == missing.status_code == 404
    assert invisible.json() == missing.json() == {**NOT_FOUND, "field": "home_node"}
    assert as_(world.worker).post("/users", {**NEW_USER, "home_node": world.grid.pk}).status_code == 403
    assert not User.objects.filter(username="new_worker").exists()
    assert counts.unchanged()


def test_admin_updates_a_user(world, as_):
    response = as_(world.admin).patch(
        f"/users/{world.worker.pk}", {"full_name": "张小网", "phone": "0574-65123456", "home_node": world.microgrid.pk}
    )
    assert response.status_code == 200, response.content
    world.worker.refresh_from_db()
    assert (world.worker.full_name, world.worker.phone, world.worker.home_node_id) == (
        "张小网", "0574-65123456", world.microgrid.pk
    )
    event = AuditEvent.objects.get(action="org.user.update", object_id=str(world.worker.pk))
    assert event.before["full_name"] == "张网格" and event.after["full_name"] == "张小网"


def test_deactivated_user_loses_api_access(world, as_, client):
    worker = as_(world.worker)
    assert worker.get("/me").status_code == 200
    assert as_(world.admin).patch(f"/users/{world.worker.pk}", {"is_active": False}).status_code == 200
    assert worker.get("/me").status_code == 401


@pytest.mark.parametrize(
    ("who", "target", "change", "status", "field"),
    [
        ("secretary", "worker", {"full_name": "改名"}, 403, None),
        ("secretary", "village_worker", {"full_name": "改名"}, 404, None),
        ("worker", "worker", {"full_name": "改名"}, 404, None),
        ("admin", "admin", {"is_active": False}, 400, "is_active"),
        ("admin", "worker", {"phone": "123"}, 400, "phone"),
        ("admin", "worker", {"phone": None}, 422, "phone"),
        ("admin", "worker", {"username": "zhang"}, 422, "username"),
        ("admin", "worker", {"email": "@"}, 422, "email"),
        ("admin", "worker", {"home_node": MISSING}, 404, "home_node"),
        ("admin", "worker", {"is_active": "nope"}, 422, "is_active"),
    ],
)
def test_update_user_refused(world, as_, who, target, change, status, field):
    api = as_(getattr(world, who))
    counts = Counts()
    user = getattr(world, target)
    response = api.patch(f"/users/{user.pk}", change)
    assert response.status_code == status, response.content
    assert response.json()["field"] == field and is_chinese(response.json()["detail"])
    assert counts.unchanged()
    fresh = User.objects.get(pk=user.pk)
    assert (fresh.full_name, fresh.phone, fresh.is_active, fresh.username) == (
        user.full_name, user.phone, True, user.username
    )


# --- roles ------------------------------------------------------------------------------------


def test_admin_binds_a_role_and_scope_follows(world, as_):
    other = as_(world.other_worker)
    assert other.get(f"/org/nodes/{world.grid.pk}").status_code == 404
    response = as_(world.admin).post(
        f"/users/{world.other_worker.pk}/roles", {"role": "grid_worker", "node": world.grid.pk}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["role"], body["role_label"], body["node_name"]) == ("grid_worker", "网格员", "东门第一网格")
    assignment = RoleAssignment.objects.get(pk=body["id"])
    assert (assignment.user_id, assignment.node_id) == (world.other_worker.pk, world.grid.pk)
    event = AuditEvent.objects.get(action="org.role.assign", object_id=str(assignment.pk))
    assert event.actor_id == world.admin.pk
    assert other.get(f"/org/nodes/{world.grid.pk}").status_code == 200


def test_bind_department_handler_with_department(world, as_):
    response = as_(world.admin).post(
        f"/users/{world.leader.pk}/roles",
        {"role": "department_handler", "node": world.subdistrict.pk, "department": world.department.pk},
    )
    assert response.status_code == 201, response.content
    assert response.json()["department_name"] == "城建办"


@pytest.mark.parametrize(
    ("who", "target", "payload", "status", "field"),
    [
        ("admin", "worker", {"role": "grid_worker", "node": "grid"}, 409, "role"),
        ("admin", "worker", {"role": "grid_worker", "node": "community"}, 400, "node"),
        ("admin", "worker", {"role": "department_handler", "node": "subdistrict"}, 400, "department"),
        ("admin", "worker", {"role": "grid_worker", "node": "other_grid", "department": "department"}, 400,
         "department"),
        ("admin", "worker", {"role": "emperor", "node": "grid"}, 422, "role"),
        ("admin", "worker", {"role": "grid_worker"}, 422, "node"),
        ("admin", "worker", {"role": "grid_worker", "node": MISSING}, 404, "node"),
        ("admin", "worker", {"role": "department_handler", "node": "subdistrict", "department": MISSING}, 404,
         "department"),
        ("secretary", "worker", {"role": "grid_leader", "node": "grid"}, 403, None),
        ("secretary", "worker", {"role": "grid_worker", "node": "village_grid"}, 404, "node"),
        ("secretary", "village_worker", {"role": "grid_worker", "node": "grid"}, 404, None),
        ("worker", "worker", {"role": "grid_leader", "node": "grid"}, 404, None),
    ],
)
def test_bind_role_refused(world, as_, who, target, payload, status, field):
    api = as_(getattr(world, who))
    counts = Counts()
    data = {k: (getattr(world, v).pk if isinstance(v, str) and hasattr(world, v) else v) for k, v in payload.items()}
    response = api.post(f"/users/{getattr(world, target).pk}/roles", data)
    assert response.status_code == status, response.content
    assert response.json()["field"] == field and is_chinese(response.json()["detail"])
    assert counts.unchanged()


def test_admin_revokes_a_role(world, as_):
    assignment = RoleAssignment.objects.get(user=world.worker)
    response = as_(world.admin).delete(f"/users/{world.worker.pk}/roles/{assignment.pk}")
    assert response.status_code == 204
    assert not RoleAssignment.objects.filter(pk=assignment.pk).exists()
    event = AuditEvent.objects.get(action="org.role.revoke", object_id=str(assignment.pk))
    assert event.actor_id == world.admin.pk and event.before["role"] == "grid_worker"
    assert as_(world.worker).get("/org/nodes").json()["count"] == 0


def test_revoke_role_refused(world, as_):
    worker_role = RoleAssignment.objects.get(user=world.worker)
    village_role = RoleAssignment.objects.get(user=world.village_worker)
    admin_role = RoleAssignment.objects.get(user=world.admin)
    counts = Counts()
    admin = as_(world.admin)
    # an assignment of another user, addressed under this user, is not found
    mismatched = admin.delete(f"/users/{world.worker.pk}/roles/{village_role.pk}")
    missing = admin.delete(f"/users/{world.worker.pk}/roles/{MISSING}")
    assert mismatched.status_code == missing.status_code == 404 and mismatched.json() == missing.json()
    own_admin = admin.delete(f"/users/{world.admin.pk}/roles/{admin_role.pk}")
    assert own_admin.status_code == 400 and own_admin.json()["field"] == "role"
    secretary = as_(world.secretary)
    assert secretary.delete(f"/users/{world.worker.pk}/roles/{worker_role.pk}").status_code == 403
    out_of_scope = secretary.delete(f"/users/{world.village_worker.pk}/roles/{village_role.pk}")
    assert out_of_scope.status_code == 404 and out_of_scope.json() == NOT_FOUND
    assert as_(world.worker).delete(f"/users/{world.worker.pk}/roles/{worker_role.pk}").status_code == 404
    assert counts.unchanged()
