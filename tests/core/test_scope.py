import pytest
from django.http import Http404

from jiedao.core import scope
from jiedao.core.errors import PermissionError_
from jiedao.core.permissions import Perm
from jiedao.org import selectors
from jiedao.org.models import OrgNode


def names(qs):
    return sorted(qs.values_list("name", flat=True))


def test_grid_worker_sees_only_own_grid_subtree(world):
    visible = names(selectors.nodes_visible(world.worker))
    assert visible == sorted(["东门第一网格", "一号微网格", "1幢"])


def test_secretary_sees_community_subtree_not_village(world):
    visible = names(selectors.nodes_visible(world.secretary))
    assert "东门第二网格" in visible and "东门社区" in visible
    assert "横塘村" not in visible and "丹西街道" not in visible


def test_leader_and_handler_see_whole_subdistrict(world):
    total = OrgNode.objects.count()
    assert selectors.nodes_visible(world.leader).count() == total
    assert selectors.nodes_visible(world.handler).count() == total


def test_out_of_scope_node_is_404_like_missing(world):
    with pytest.raises(Http404):
        selectors.node_get(world.worker, world.other_grid.pk)
    with pytest.raises(Http404):
        selectors.node_get(world.worker, 987654)


def test_require_distinguishes_invisible_from_forbidden(world):
    with pytest.raises(Http404):
        scope.require(world.worker, Perm.MANAGE_ORG, world.other_grid.path)
    with pytest.raises(PermissionError_):
        scope.require(world.worker, Perm.MANAGE_ORG, world.grid.path)
    scope.require(world.admin, Perm.MANAGE_ORG, world.grid.path)


def test_subtree_range_excludes_siblings_with_longer_numbers(world):
    low, high = scope.subtree_range(world.grid.path)
    inside = set(OrgNode.objects.filter(path__range=(low, high)).values_list("pk", flat=True))
    assert world.other_grid.pk not in inside
    assert {world.grid.pk, world.microgrid.pk, world.building.pk} == inside


def test_inactive_user_sees_nothing(world):
    world.worker.is_active = False
    assert selectors.nodes_visible(world.worker).count() == 0


def test_users_scope_for_secretary(world):
    usernames = set(selectors.users_visible(world.secretary).values_list("username", flat=True))
    assert usernames == {"secretary", "worker", "other_worker"}
    assert selectors.users_visible(world.worker).count() == 0
