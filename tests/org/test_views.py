"""The org pages: tree browser (scope, 404s, htmx partials, paging, search), node and department
forms, user and role administration. Whole pages a role lacks answer 403; objects out of scope
answer 404 exactly like missing ones."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from jiedao.core.models import AuditEvent
from jiedao.core.permissions import Role
from jiedao.org import forms as org_forms
from jiedao.org import services
from jiedao.org.models import Department, NodeKind, OrgNode, RoleAssignment, User
from tests.conftest import PASSWORD


def html(response) -> str:
    return response.content.decode()


def normalized(response, pk) -> str:
    """The page without what differs per request anyway: CSRF tokens and the requested path."""
    text = re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', r"\1…", html(response))
    return text.replace(f"/org/{pk}/", "/org/…/")


def node_url(node) -> str:
    return reverse("org:node", args=[node.pk])


# --- tree browser -------------------------------------------------------------------------------


def test_org_index_lists_scope_roots(client, world):
    client.force_login(world.worker)
    response = client.get(reverse("org:index"))
    assert [n.name for n in response.context["roots"]] == ["东门第一网格"]
    assert "微网格 1 · 楼栋 1" in html(response)
    client.force_login(world.secretary)
    assert [n.name for n in client.get(reverse("org:index")).context["roots"]] == ["东门社区"]
    client.force_login(world.leader)
    assert [n.name for n in client.get(reverse("org:index")).context["roots"]] == ["丹西街道"]


def test_node_detail_shows_breadcrumbs_people_children_and_counts(client, world):
    client.force_login(world.secretary)
    response = client.get(node_url(world.grid))
    assert response.status_code == 200
    page = html(response)
    assert [a.name for a in response.context["ancestors"]] == ["东门社区"]  # 丹西街道 is outside the scope
    assert "330225002001001" in page and "未绘制" in page
    assert "张网格" in page and '<span class="person-role">网格员</span>' in page
    assert "一号微网格" in page and reverse("org:node_children", args=[world.microgrid.pk]) in page
    assert "<dt>微网格</dt><dd>1</dd>" in page
    assert "添加下级" not in page and "编辑" not in page


def test_grid_worker_gets_404_for_other_grid_exactly_like_missing(client, world):
    client.force_login(world.worker)
    assert client.get(node_url(world.grid)).status_code == 200
    out_of_scope = client.get(node_url(world.other_grid))
    missing = client.get(reverse("org:node", args=[987654]))
    assert out_of_scope.status_code == missing.status_code == 404
    assert "东门第二网格" not in html(out_of_scope)
    assert normalized(out_of_scope, world.other_grid.pk) == normalized(missing, 987654)
    for name in ("org:node_children", "org:node_add", "org:node_edit"):
        assert client.get(reverse(name, args=[world.other_grid.pk])).status_code == 404
    # Parents are out of scope too, not just siblings.
    assert client.get(node_url(world.community)).status_code == 404


def test_children_partial_for_htmx_expand(client, world):
    client.force_login(world.worker)
    response = client.get(reverse("org:node_children", args=[world.microgrid.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    page = html(response)
    assert "1幢" in page and "<html" not in page and "楼栋" in page


def test_children_are_paginated(client, world, settings):
    settings.JIEDAO_PAGE_SIZE = 5
    for i in range(2, 13):
        services.node_create(actor=world.admin, parent=world.microgrid, kind=NodeKind.BUILDING, name=f"{i}幢")
    client.force_login(world.worker)
    page = client.get(node_url(world.microgrid)).context["page"]
    assert page.paginator.count == 12 and page.paginator.num_pages == 3
    assert [n.name for n in page.object_list] == ["1幢", "2幢", "3幢", "4幢", "5幢"]
    response = client.get(reverse("org:node_children", args=[world.microgrid.pk]), {"page": 3})
    assert [n.name for n in response.context["page"].object_list] == ["11幢", "12幢"]
    assert "第 3 / 3 页，共 12 条" in html(response)
    assert f'hx-get="{reverse("org:node_children", args=[world.microgrid.pk])}?page=2"' in html(response)


def test_search_is_scoped(client, world):
    client.force_login(world.leader)
    response = client.get(reverse("org:search"), {"q": "第一网格"})
    assert {n.name for n in response.context["results"]} == {"东门第一网格", "横塘第一网格"}
    assert "东门社区 › 东门第一网格" not in html(response)  # trails name ancestors, not the node itself
    assert "丹西街道 › 东门社区" in html(response)
    client.force_login(world.worker)
    response = client.get(reverse("org:search"), {"q": "网格"}, HTTP_HX_REQUEST="true")
    assert {n.name for n in response.context["results"]} == {"东门第一网格", "一号微网格"}
    assert "<html" not in html(response)
    response = client.get(reverse("org:search"), {"q": "330225002001002"})
    assert response.context["results"] == [] and "没有找到" in html(response)


# --- node and department forms ------------------------------------------------------------------


def test_admin_sees_forms_and_adds_a_child(client, world):
    client.force_login(world.admin)
    page = html(client.get(node_url(world.community)))
    assert "添加下级" in page and "编辑" in page
    form_page = client.get(reverse("org:node_add", args=[world.community.pk]))
    assert form_page.status_code == 200
    assert [k for k, _ in form_page.context["form"].fields["kind"].choices] == ["grid"]
    response = client.post(
        reverse("org:node_add", args=[world.community.pk]),
        {"kind": "grid", "name": "东门第三网格", "code": "330225002001003", "address": "东门路 3 号"},
    )
    new = OrgNode.objects.get(name="东门第三网格")
    assert response.status_code == 302 and response["Location"] == node_url(new)
    assert new.parent == world.community and new.address == "东门路 3 号"
    assert AuditEvent.objects.filter(action="org.node.create", object_id=str(new.pk), actor=world.admin).exists()


def test_add_child_errors_keep_input_and_change_nothing(client, world):
    client.force_login(world.admin)
    url = reverse("org:node_add", args=[world.community.pk])
    before = OrgNode.objects.count()
    response = client.post(url, {"kind": "grid", "name": "东门第二网格", "code": ""})
    assert response.status_code == 409
    assert "同一上级下已有名为“东门第二网格”的节点" in response.context["form"].errors["name"][0]
    response = client.post(url, {"kind": "grid", "name": "新网格", "code": "12345"})
    assert response.status_code == 400
    assert "编码应为 15 位数字" in response.context["form"].errors["code"][0]
    assert 'value="新网格"' in html(response)  # the user's input is kept
    response = client.post(url, {"kind": "grid", "name": "新网格", "boundary": "{not json"})
    assert response.status_code == 400
    assert "边界不是有效的 JSON" in response.context["form"].errors["boundary"][0]
    response = client.post(url, {"kind": "building", "name": "新网格"})
    assert response.status_code == 400 and response.context["form"].errors["kind"]
    assert OrgNode.objects.count() == before


def test_edit_node(client, world):
    client.force_login(world.admin)
    url = reverse("org:node_edit", args=[world.building.pk])
    form = client.get(url).context["form"]
    assert form.initial["floors"] == 6 and "floors" in form.fields
    response = client.post(url, {"name": "1号楼", "floors": "7", "units": "2", "is_active": "on"})
    assert response.status_code == 302
    world.building.refresh_from_db()
    assert (world.building.name, world.building.floors) == ("1号楼", 7)
    event = AuditEvent.objects.get(action="org.node.update", object_id=str(world.building.pk))
    assert event.after == {"name": "1号楼", "floors": 7}
    # Deactivating a node with active children is refused on the named field.
    url = reverse("org:node_edit", args=[world.microgrid.pk])
    response = client.post(url, {"name": "一号微网格", "code": "330225002001001001"})
    assert response.status_code == 400
    assert "还有启用的下级节点" in response.context["form"].errors["is_active"][0]


def test_worker_cannot_manage_nodes(client, world):
    client.force_login(world.worker)
    assert client.get(reverse("org:node_add", args=[world.grid.pk])).status_code == 403
    response = client.post(reverse("org:node_edit", args=[world.grid.pk]), {"name": "改名"})
    assert response.status_code == 403
    world.grid.refresh_from_db()
    assert world.grid.name == "东门第一网格"


def test_departments_on_subdistrict_page_and_add(client, world):
    client.force_login(world.leader)
    page = html(client.get(node_url(world.subdistrict)))
    assert "科室与站所" in page and "城建办" in page and "添加科室" not in page
    client.force_login(world.admin)
    url = reverse("org:department_add", args=[world.subdistrict.pk])
    response = client.post(url, {"name": "平安办", "kind": "office", "duties": "综治维稳"})
    assert response.status_code == 302
    assert Department.objects.filter(subdistrict=world.subdistrict, name="平安办").exists()
    response = client.post(url, {"name": "城建办", "kind": "office"})
    assert response.status_code == 409
    assert "已有名为“城建办”的部门" in response.context["department_form"].errors["name"][0]
    assert Department.objects.filter(name="城建办").count() == 1
    client.force_login(world.leader)
    assert client.post(url, {"name": "组织办", "kind": "office"}).status_code == 403
    assert not Department.objects.filter(name="组织办").exists()


# --- users --------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["worker", "handler", "village_worker"])
def test_roles_without_user_permission_get_403_pages_and_404_objects(client, world, who):
    client.force_login(getattr(world, who))
    assert client.get(reverse("org:users")).status_code == 403
    assert client.get(reverse("org:user_new")).status_code == 403
    assert client.get(reverse("org:node_picker"), {"field": "node"}).status_code == 403
    assert client.get(reverse("org:user", args=[world.other_worker.pk])).status_code == 404


def test_user_list_scope_search_filters_and_paging(client, world, settings):
    client.force_login(world.secretary)
    response = client.get(reverse("org:users"))
    assert response.status_code == 200
    assert {u.username for u in response.context["page"].object_list} == {"secretary", "worker", "other_worker"}
    assert "新建用户" not in html(response)  # secretaries view users, they do not administer them
    assert client.get(reverse("org:user", args=[world.village_worker.pk])).status_code == 404

    client.force_login(world.admin)
    response = client.get(reverse("org:users"), {"q": "网格"})
    assert {u.full_name for u in response.context["page"].object_list} == {"张网格", "赵网格", "钱网格"}
    response = client.get(reverse("org:users"), {"role": Role.DEPARTMENT_HANDLER})
    assert [u.username for u in response.context["page"].object_list] == ["handler"]
    services.user_update(actor=world.admin, user=world.handler, is_active=False)
    response = client.get(reverse("org:users"), {"active": "0"})
    assert [u.username for u in response.context["page"].object_list] == ["handler"]
    settings.JIEDAO_PAGE_SIZE = 5
    response = client.get(reverse("org:users"), {"page": 2})
    assert response.context["page"].number == 2 and len(response.context["page"].object_list) == 2


def test_admin_creates_user_and_binds_role(client, world):
    client.force_login(world.admin)
    form_page = client.get(reverse("org:user_new"))
    assert form_page.status_code == 200 and '<select name="home_node"' in html(form_page)
    response = client.post(
        reverse("org:user_new"),
        {"username": "zhou", "full_name": "周网格", "phone": "13800138000", "home_node": world.other_grid.pk,
         "password": "Gr1d-worker-pw", "password_confirm": "Gr1d-worker-pw"},
    )
    created = User.objects.get(username="zhou")
    assert response.status_code == 302 and response["Location"] == reverse("org:user", args=[created.pk])
    assert created.home_node == world.other_grid and created.check_password("Gr1d-worker-pw")

    response = client.post(reverse("org:role_assign", args=[created.pk]),
                           {"role": Role.GRID_WORKER, "node": world.other_grid.pk})
    assert response.status_code == 302
    assignment = RoleAssignment.objects.get(user=created)
    assert (assignment.role, assignment.node) == (Role.GRID_WORKER, world.other_grid)
    page = html(client.get(reverse("org:user", args=[created.pk])))
    assert "网格员</strong> · " in page and "东门第二网格" in page
    actions = list(AuditEvent.objects.filter(actor=world.admin).order_by("id").values_list("action", "object_repr"))
    assert actions[-2:] == [("org.user.create", "周网格"), ("org.role.assign", "周网格 · 网格员 · 东门第二网格")]


def _new_user_data(world, **overrides):
    data = {"username": "zhou", "full_name": "周网格", "phone": "", "home_node": world.grid.pk,
            "password": "Gr1d-worker-pw", "password_confirm": "Gr1d-worker-pw"}
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "status", "field", "message"),
    [
        ({"username": "worker"}, 409, "username", "用户名“worker”已被使用"),
        ({"username": "a b"}, 400, "username", "用户名应为 3 到 150 位"),
        ({"password": "12345678", "password_confirm": "12345678"}, 400, "password", "密码不符合要求"),
        ({"password_confirm": "something-else"}, 400, "password_confirm", "两次输入的密码不一致"),
        ({"phone": "12345"}, 400, "phone", "电话号码“12345”格式不正确"),
        ({"home_node": "999999"}, 400, "home_node", "请选择您管理范围内的组织节点"),
        ({"full_name": ""}, 400, "full_name", "必填"),
    ],
)
def test_user_create_errors(client, world, overrides, status, field, message):
    client.force_login(world.admin)
    before = (User.objects.count(), AuditEvent.objects.count())
    response = client.post(reverse("org:user_new"), _new_user_data(world, **overrides))
    assert response.status_code == status
    assert message in " ".join(response.context["form"].errors[field])
    page = html(response)
    assert f'id="id_{field}_error"' in page and message in page
    assert 'value="周网格"' in page or field == "full_name"  # input is kept
    assert (User.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize(
    ("data", "status", "field", "message"),
    [
        ({"role": Role.GRID_WORKER, "node": "community"}, 400, "node", "网格员只能绑定到：网格、微网格"),
        ({"role": Role.DEPARTMENT_HANDLER, "node": "subdistrict"}, 400, "department", "必须选择所属部门"),
        ({"role": Role.GRID_WORKER, "node": "grid"}, 409, "role", "已有这个角色"),
        ({"role": "", "node": "grid"}, 400, "role", "必填"),
    ],
)
def test_role_bind_errors(client, world, data, status, field, message):
    client.force_login(world.admin)
    data = dict(data, node=getattr(world, data["node"]).pk)
    before = (RoleAssignment.objects.count(), AuditEvent.objects.count())
    response = client.post(reverse("org:role_assign", args=[world.worker.pk]), data)
    assert response.status_code == status
    assert message in " ".join(response.context["role_form"].errors[field])
    assert message in html(response)
    assert (RoleAssignment.objects.count(), AuditEvent.objects.count()) == before


def test_bind_department_handler_with_department(client, world):
    client.force_login(world.admin)
    response = client.post(
        reverse("org:role_assign", args=[world.secretary.pk]),
        {"role": Role.DEPARTMENT_HANDLER, "node": world.subdistrict.pk, "department": world.department.pk},
    )
    assert response.status_code == 302
    assert RoleAssignment.objects.filter(user=world.secretary, department=world.department).exists()


def test_leader_views_user_but_cannot_change_it(client, world):
    client.force_login(world.leader)
    response = client.get(reverse("org:user", args=[world.worker.pk]))
    assert response.status_code == 200
    page = html(response)
    assert "张网格" in page and "重置密码" not in page
    assert reverse("org:role_assign", args=[world.worker.pk]) not in page  # no bind form
    assert "修改记录" in page and "org.role.assign" in page  # the history includes role bindings
    url = reverse("org:role_assign", args=[world.worker.pk])
    assert client.post(url, {"role": Role.GRID_WORKER, "node": world.other_grid.pk}).status_code == 403
    assignment = RoleAssignment.objects.get(user=world.worker)
    assert client.post(reverse("org:role_revoke", args=[world.worker.pk, assignment.pk])).status_code == 403
    assert client.post(reverse("org:user_set_active", args=[world.worker.pk]), {"active": "0"}).status_code == 403
    assert client.get(reverse("org:user_edit", args=[world.worker.pk])).status_code == 403
    assert RoleAssignment.objects.filter(user=world.worker).count() == 1
    world.worker.refresh_from_db()
    assert world.worker.is_active


def test_revoke_role(client, world):
    client.force_login(world.admin)
    assignment = RoleAssignment.objects.get(user=world.worker)
    response = client.post(reverse("org:role_revoke", args=[world.worker.pk, assignment.pk]))
    assert response.status_code == 302
    assert not RoleAssignment.objects.filter(user=world.worker).exists()
    assert AuditEvent.objects.filter(action="org.role.revoke", object_id=str(assignment.pk)).exists()
    # An assignment of another user through this user's URL is not found.
    other = RoleAssignment.objects.get(user=world.other_worker)
    assert client.post(reverse("org:role_revoke", args=[world.worker.pk, other.pk])).status_code == 404
    # Revoking one's own admin role is refused with the service's message.
    own = RoleAssignment.objects.get(user=world.admin, role=Role.ADMIN)
    response = client.post(reverse("org:role_revoke", args=[world.admin.pk, own.pk]))
    assert response.status_code == 400
    assert "不能撤销自己的系统管理员角色" in html(response)
    assert RoleAssignment.objects.filter(pk=own.pk).exists()


def test_deactivate_activate_and_reset_password(client, world):
    client.force_login(world.admin)
    url = reverse("org:user_set_active", args=[world.worker.pk])
    assert client.post(url, {"active": "0"}).status_code == 302
    world.worker.refresh_from_db()
    assert not world.worker.is_active
    assert "停用" in html(client.get(reverse("org:user", args=[world.worker.pk])))
    assert client.post(url, {"active": "1"}).status_code == 302
    world.worker.refresh_from_db()
    assert world.worker.is_active
    response = client.post(reverse("org:user_set_active", args=[world.admin.pk]), {"active": "0"})
    assert response.status_code == 400 and "不能停用自己的账号" in html(response)

    url = reverse("org:user_password", args=[world.worker.pk])
    response = client.post(url, {"password": "password", "password_confirm": "password"})
    assert response.status_code == 400
    assert "密码不符合要求" in response.context["password_form"].errors["password"][0]
    assert client.post(url, {"password": "N3w-secret-pw", "password_confirm": "N3w-secret-pw"}).status_code == 302
    world.worker.refresh_from_db()
    assert world.worker.check_password("N3w-secret-pw")


def test_edit_user_profile(client, world):
    client.force_login(world.admin)
    url = reverse("org:user_edit", args=[world.worker.pk])
    assert client.get(url).context["form"].initial["full_name"] == "张网格"
    response = client.post(url, {"full_name": "张网格员", "phone": "abc", "email": ""})
    assert response.status_code == 400 and "格式不正确" in response.context["form"].errors["phone"][0]
    assert client.post(url, {"full_name": "张网格员", "phone": "13900139000", "email": ""}).status_code == 302
    world.worker.refresh_from_db()
    assert (world.worker.full_name, world.worker.phone) == ("张网格员", "13900139000")


# --- node picker --------------------------------------------------------------------------------


def test_node_picker_search_is_limited_to_managed_nodes(client, world):
    outside = services.node_create(actor=world.root, parent=None, kind=NodeKind.SUBDISTRICT, name="东城街道")
    services.node_create(actor=world.root, parent=outside, kind=NodeKind.COMMUNITY, name="东城第一社区")
    client.force_login(world.admin)
    response = client.get(reverse("org:node_picker"), {"field": "node", "node_q": "第一"})
    assert response.status_code == 200
    names = [n.name for n in response.context["results"]]
    assert names == ["东门第一网格", "横塘第一网格"]
    page = html(response)
    assert 'type="radio" name="node"' in page and "丹西街道 › 东门社区" in page and "东城" not in page
    # The current choice is kept at the top even when the new search does not match it.
    response = client.get(reverse("org:node_picker"), {"field": "node", "node_q": "横塘", "node": world.grid.pk})
    assert response.context["results"][0].name == "东门第一网格"
    assert f'value="{world.grid.pk}" checked' in html(response)
    assert client.get(reverse("org:node_picker"), {"field": "bad field!"}).status_code == 404
    client.force_login(world.leader)  # VIEW_USERS without MANAGE_USERS
    assert client.get(reverse("org:node_picker"), {"field": "node"}).status_code == 403


def test_large_trees_get_a_search_picker(client, world, monkeypatch):
    monkeypatch.setattr(org_forms, "PICKER_SELECT_LIMIT", 3)
    client.force_login(world.admin)
    page = html(client.get(reverse("org:user_new")))
    assert '<select name="home_node"' not in page
    assert 'name="home_node_q"' in page and f'hx-get="{reverse("org:node_picker")}"' in page
    # After an error the chosen node is shown checked so the user's choice survives.
    response = client.post(reverse("org:user_new"), _new_user_data(world, password_confirm="x"))
    assert response.status_code == 400
    assert f'name="home_node" value="{world.grid.pk}" checked' in html(response)
    # And the search picker submits the radio value like the select did.
    response = client.post(reverse("org:user_new"), _new_user_data(world, home_node_q="东门"))
    assert response.status_code == 302
    assert User.objects.get(username="zhou").home_node == world.grid


def test_login_as_created_user_sees_own_grid(client, world):
    client.force_login(world.admin)
    client.post(reverse("org:user_new"), _new_user_data(world, home_node=world.village_grid.pk))
    created = User.objects.get(username="zhou")
    client.post(reverse("org:role_assign", args=[created.pk]),
                {"role": Role.GRID_WORKER, "node": world.village_grid.pk})
    client.logout()
    assert client.post(reverse("login"), {"username": "zhou", "password": "Gr1d-worker-pw"}).status_code == 302
    page = html(client.get(reverse("home")))
    assert "横塘第一网格" in page and "东门" not in page
    assert PASSWORD not in page
