"""The core pages: login/logout, home per role, my account (password, API tokens), the audit log,
and the Chinese 403/404 pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from jiedao.core.models import ApiToken, AuditEvent
from jiedao.core.permissions import Role
from jiedao.core.services import token_authenticate, token_create
from jiedao.org import services
from jiedao.org.models import NodeKind
from tests.conftest import PASSWORD


def html(response) -> str:
    return response.content.decode()


# --- login / logout -----------------------------------------------------------------------------


def test_login_page_is_chinese_and_anonymous_home_redirects(client, db):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    page = html(client.get(reverse("login")))
    assert "工作人员登录" in page
    assert 'autocomplete="current-password"' in page
    assert '<label for="id_username">用户名</label>' in page


def test_login_with_password_then_logout(client, world):
    response = client.post(reverse("login"), {"username": "worker", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    home = html(client.get(reverse("home")))
    assert "东门第一网格" in home and "张网格" in home
    assert client.get(reverse("logout")).status_code == 405  # logout is a POST form only
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_wrong_password_shows_error_and_fifth_failure_locks_out(client, world):
    response = client.post(reverse("login"), {"username": "worker", "password": "wrong-password"})
    assert response.status_code == 200
    assert "form-alert" in html(response)
    for _ in range(4):
        response = client.post(reverse("login"), {"username": "worker", "password": "wrong-password"})
    assert response.status_code == 429
    assert "登录已暂时锁定" in html(response)
    assert "连续 5 次输错密码" in html(response)
    # Even the right password is refused while locked.
    response = client.post(reverse("login"), {"username": "worker", "password": PASSWORD})
    assert response.status_code == 429


def test_language_switch_sets_cookie(client, world):
    client.force_login(world.worker)
    page = html(client.get(reverse("home")))
    assert 'action="/i18n/setlang/"' in page and 'value="en"' in page
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/org/"})
    assert response.status_code == 302 and response["Location"] == "/org/"
    assert response.cookies["django_language"].value == "en"


# --- home per role ------------------------------------------------------------------------------


def test_home_grid_worker_sees_own_grid_and_counts(client, world):
    client.force_login(world.worker)
    page = html(client.get(reverse("home")))
    assert "我的网格" in page and "东门第一网格" in page
    assert "<dt>微网格</dt><dd>1</dd>" in page and "<dt>楼栋</dt><dd>1</dd>" in page
    assert reverse("org:node", args=[world.grid.pk]) in page
    assert "东门第二网格" not in page
    assert "用户管理" not in page and "审计日志" not in page


def test_home_secretary_sees_community_grids_and_workers(client, world):
    client.force_login(world.secretary)
    page = html(client.get(reverse("home")))
    assert "东门社区" in page and "网格与网格员" in page
    assert "东门第一网格" in page and "东门第二网格" in page
    assert "张网格" in page and "赵网格" in page
    assert "横塘" not in page


def test_home_handler_sees_department_and_subdistrict(client, world):
    client.force_login(world.handler)
    page = html(client.get(reverse("home")))
    assert "我的科室" in page and "城建办" in page and "丹西街道" in page


def test_home_leader_overview_counts_and_admin_shortcuts(client, world):
    client.force_login(world.leader)
    page = html(client.get(reverse("home")))
    assert "丹西街道概况" in page
    assert "<dt>社区</dt><dd>1</dd>" in page and "<dt>村</dt><dd>1</dd>" in page
    assert "<dt>网格</dt><dd>3</dd>" in page
    assert "<dt>科室与站所</dt><dd>1</dd>" in page
    assert "<dt>启用的账号</dt><dd>7</dd>" in page
    assert "管理入口" not in page  # leaders view, they do not administer users
    client.force_login(world.admin)
    page = html(client.get(reverse("home")))
    assert "管理入口" in page and reverse("org:user_new") in page


def test_home_without_roles_says_so(client, world):
    lonely = services.user_create(
        actor=world.admin, username="lonely", full_name="未分配", home_node=world.community, password=PASSWORD
    )
    client.force_login(lonely)
    assert "尚未分配角色" in html(client.get(reverse("home")))


@pytest.mark.parametrize("who", ["root", "admin", "leader", "secretary", "worker", "handler", "village_worker"])
@pytest.mark.parametrize("url", ["home", "org:index", "account"])
def test_common_pages_render_for_every_role(client, world, who, url):
    user = getattr(world, who)
    client.force_login(user)
    response = client.get(reverse(url))
    assert response.status_code == 200
    page = html(response)
    assert str(user) in page  # the top bar names the signed-in user
    assert "退出" in page


def test_top_bar_shows_role_and_menu_follows_permissions(client, world):
    client.force_login(world.worker)
    page = html(client.get(reverse("home")))
    assert '<span class="who-role">网格员</span>' in page
    assert reverse("org:users") not in page
    client.force_login(world.leader)
    page = html(client.get(reverse("home")))
    assert '<span class="who-role">街道领导</span>' in page
    assert reverse("org:users") in page and reverse("audit_list") in page


# --- my account ---------------------------------------------------------------------------------


def test_change_own_password(client, world):
    client.force_login(world.worker)
    url = reverse("account_password")
    response = client.post(url, {"current_password": "nope", "password": "Xq7-long-enough", "password_confirm":
                                 "Xq7-long-enough"})
    assert response.status_code == 400
    assert "当前密码不正确" in response.context["password_form"].errors["current_password"][0]
    response = client.post(url, {"current_password": PASSWORD, "password": "12345678", "password_confirm": "12345678"})
    assert response.status_code == 400
    assert response.context["password_form"].errors["password"][0].startswith("密码不符合要求")
    response = client.post(url, {"current_password": PASSWORD, "password": "Xq7-long-enough",
                                 "password_confirm": "Xq7-other"})
    assert response.status_code == 400
    assert "两次输入的密码不一致" in html(response)
    world.worker.refresh_from_db()
    assert world.worker.check_password(PASSWORD)

    response = client.post(url, {"current_password": PASSWORD, "password": "Xq7-long-enough",
                                 "password_confirm": "Xq7-long-enough"})
    assert response.status_code == 302
    world.worker.refresh_from_db()
    assert world.worker.check_password("Xq7-long-enough")
    assert client.get(reverse("account")).status_code == 200  # still signed in
    assert AuditEvent.objects.filter(action="org.user.set_password", object_id=str(world.worker.pk)).exists()


def test_token_create_shows_plaintext_once_then_revoke(client, world):
    client.force_login(world.worker)
    response = client.post(reverse("token_create"), {"name": "区平台对接", "expires_days": "90"})
    assert response.status_code == 201
    plaintext = response.context["new_token"]
    assert plaintext.startswith("jd_") and plaintext in html(response)
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get(user=world.worker)
    assert token.name == "区平台对接" and token.key_hash != plaintext
    assert token_authenticate(plaintext) == world.worker

    page = html(client.get(reverse("account")))
    assert "区平台对接" in page and token.prefix in page
    assert plaintext not in page  # never shown again

    response = client.post(reverse("token_revoke", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token_authenticate(plaintext) is None
    assert "已吊销" in html(client.get(reverse("account")))
    actions = set(AuditEvent.objects.filter(object_type="core.apitoken").values_list("action", flat=True))
    assert actions == {"core.token.create", "core.token.revoke"}


def test_token_form_errors_and_foreign_token_is_404(client, world):
    client.force_login(world.worker)
    response = client.post(reverse("token_create"), {"name": "   ", "expires_days": "90"})
    assert response.status_code == 400
    assert response.context["token_form"].errors["name"]
    assert not ApiToken.objects.exists()
    theirs, _ = token_create(actor=world.other_worker, name="别人的令牌")
    assert client.post(reverse("token_revoke", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


# --- audit log ----------------------------------------------------------------------------------


def test_audit_page_for_leader_not_for_worker_or_secretary(client, world):
    client.force_login(world.leader)
    response = client.get(reverse("audit_list"))
    assert response.status_code == 200
    page = html(response)
    assert "新建用户" in page and "张网格" in page and "org.role.assign" in page
    for who in (world.worker, world.secretary, world.handler):
        client.force_login(who)
        response = client.get(reverse("audit_list"))
        assert response.status_code == 403
        assert "您没有执行此操作的权限" in html(response)


def test_audit_filters_by_action_prefix_and_object(client, world):
    client.force_login(world.admin)
    response = client.get(reverse("audit_list"), {"action": "org.role."})
    events = response.context["page"].object_list
    assert events and {e.action for e in events} == {"org.role.assign"}
    response = client.get(reverse("audit_list"), {"object_type": "org.orgnode", "object_id": world.grid.pk})
    events = response.context["page"].object_list
    assert [e.object_repr for e in events] == ["东门第一网格"]
    assert events[0].action == "org.node.create"


def test_audit_is_paginated_newest_first(client, world, settings):
    settings.JIEDAO_PAGE_SIZE = 5
    client.force_login(world.root)
    response = client.get(reverse("audit_list"))
    page = response.context["page"]
    assert len(page.object_list) == 5
    assert page.paginator.count == AuditEvent.objects.count()
    ids = [e.id for e in page.object_list]
    assert ids == sorted(ids, reverse=True)
    assert "第 1 / " in html(response)


def test_audit_rows_are_limited_to_the_leaders_subdistrict(client, world):
    other = services.node_create(actor=world.root, parent=None, kind=NodeKind.SUBDISTRICT, name="东城街道")
    other_leader = services.user_create(
        actor=world.root, username="dc_leader", full_name="东城领导", home_node=other, password=PASSWORD
    )
    services.role_assign(actor=world.root, user=other_leader, role=Role.LEADER, node=other)
    services.node_update(actor=world.admin, node=world.grid, address="丹西路 1 号")

    client.force_login(other_leader)
    events = client.get(reverse("audit_list")).context["page"].object_list
    reprs = {e.object_repr for e in events}
    assert "东城街道" in reprs and "东城领导" in reprs
    assert "东门第一网格" not in reprs and "张网格" not in reprs

    client.force_login(world.leader)
    events = client.get(reverse("audit_list")).context["page"].object_list
    reprs = {e.object_repr for e in events}
    assert "东门第一网格" in reprs and "张网格" in reprs
    assert "东城街道" not in reprs and "东城领导" not in reprs


def test_audit_history_partial_and_on_detail_pages(client, world):
    services.node_update(actor=world.admin, node=world.grid, address="丹西路 1 号")
    client.force_login(world.leader)
    response = client.get(reverse("audit_history"), {"object_type": "org.orgnode", "object_id": world.grid.pk})
    assert response.status_code == 200
    page = html(response)
    assert "修改组织节点" in page and "丹西路 1 号" in page and "<html" not in page
    node_page = html(client.get(reverse("org:node", args=[world.grid.pk])))
    assert "修改记录" in node_page and "丹西路 1 号" in node_page
    client.force_login(world.worker)  # no VIEW_AUDIT: neither the partial nor the section
    assert client.get(reverse("audit_history"), {"object_type": "org.orgnode", "object_id": world.grid.pk}
                      ).status_code == 403
    assert "修改记录" not in html(client.get(reverse("org:node", args=[world.grid.pk])))


# --- error pages --------------------------------------------------------------------------------


def test_404_and_403_pages_are_chinese(client, world):
    client.force_login(world.worker)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "未找到该页面或对象" in html(response) and "张网格" in html(response)
    response = client.get(reverse("org:users"))
    assert response.status_code == 403
    assert "您没有执行此操作的权限" in html(response)
