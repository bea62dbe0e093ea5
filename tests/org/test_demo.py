"""The demo generator: the sizes of 丹西街道, valid codes, a consistent tree, every role, a valid
audit chain, and the same output for the same seed.

The subdistrict scale is seeded once for the module inside a transaction that is rolled back
at the end; each test runs in a savepoint within it.
"""

from __future__ import annotations

import itertools
import random

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.db import transaction
from django.db.models import Count, F, Max, Min, Q
from django.db.models.functions import Length

from jiedao.core import audit
from jiedao.core.models import AuditEvent
from jiedao.core.permissions import Role
from jiedao.core.validators import validate_geojson_boundary, validate_node_code
from jiedao.org import demo
from jiedao.org.models import Department, NodeKind, OrgNode, RoleAssignment, SecondFactor, User

SEED = 7


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        report = demo.seed("subdistrict", seed=SEED)
        yield report
        transaction.set_rollback(True)


def kind_counts() -> dict[str, int]:
    return dict(OrgNode.objects.values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))


def test_subdistrict_scale_has_the_sizes_of_danxi(seeded, db):
    counts = kind_counts()
    assert counts[NodeKind.SUBDISTRICT] == 1
    assert counts[NodeKind.COMMUNITY] == 9
    assert counts[NodeKind.VILLAGE] == 21
    assert counts[NodeKind.GRID] == 88
    assert counts[NodeKind.MICROGRID] == 612
    per_micro = OrgNode.objects.filter(kind=NodeKind.MICROGRID).annotate(n=Count("children")).aggregate(
        low=Min("n"), high=Max("n")
    )
    assert per_micro["low"] >= 3 and per_micro["high"] <= 8
    assert not OrgNode.objects.filter(kind=NodeKind.BUILDING).filter(Q(floors__isnull=True) | Q(units__isnull=True)).exists()
    root = OrgNode.objects.get(parent__isnull=True)
    assert (root.name, root.code, root.kind) == ("丹西街道", "330225002000", NodeKind.SUBDISTRICT)
    assert seeded.nodes[NodeKind.MICROGRID] == 612 and seeded.total_nodes == OrgNode.objects.count()


def test_every_code_is_valid_and_extends_its_parents(seeded, db):
    nodes = OrgNode.objects.select_related("parent").order_by("path")
    for node in nodes.iterator(chunk_size=2000):
        validate_node_code(node.code, node.kind, node.parent.code if node.parent else "")
    assert OrgNode.objects.filter(kind=NodeKind.VILLAGE, code__startswith="330225002201").exists()
    assert OrgNode.objects.values("code").distinct().count() == OrgNode.objects.count()


def test_paths_depths_and_subdistrict_are_consistent(seeded, db):
    children = OrgNode.objects.filter(parent__isnull=False)
    assert not children.exclude(path__startswith=F("parent__path")).exists()
    assert not children.exclude(depth=F("parent__depth") + 1).exists()
    assert not OrgNode.objects.annotate(length=Length("path")).exclude(length=F("depth") * 4).exists()
    root = OrgNode.objects.get(parent__isnull=True)
    assert root.path == "0001" and root.subdistrict_id == root.pk
    assert not OrgNode.objects.exclude(subdistrict=root).exists()
    assert not OrgNode.objects.filter(sort_order=0).exists()


def test_grid_boundaries_are_polygons_near_xiangshan(seeded, db):
    for boundary in OrgNode.objects.filter(kind=NodeKind.GRID).values_list("boundary", flat=True):
        validate_geojson_boundary(boundary)
        for lon, lat in boundary["coordinates"][0]:
            assert 121.8 < lon < 121.95 and 29.4 < lat < 29.55


def test_every_role_has_a_user_and_the_shared_password(seeded, db):
    roles = set(RoleAssignment.objects.values_list("role", flat=True))
    assert roles == set(Role.values)
    role_counts = dict(RoleAssignment.objects.values_list("role").annotate(n=Count("id")))
    assert role_counts[Role.COMMUNITY_SECRETARY] == 30
    assert role_counts[Role.GRID_WORKER] == 88
    assert role_counts[Role.DEPARTMENT_HANDLER] == Department.objects.count() >= 8
    assert not RoleAssignment.objects.filter(role=Role.DEPARTMENT_HANDLER, department__isnull=True).exists()
    assert {"平安办（综治中心）", "综合行政执法队", "自然资源和规划所"} <= set(Department.objects.values_list("name", flat=True))
    wangge = User.objects.get(username="wangge01")
    assert wangge.assignments.get().node.kind == NodeKind.GRID and wangge.home_node.kind == NodeKind.GRID
    assert Argon2PasswordHasher().verify(demo.DEMO_PASSWORD, wangge.password)  # (tests use MD5 otherwise)
    assert User.objects.values("password").distinct().count() == 1  # hashed once


def test_seeding_is_audited_and_the_chain_verifies(seeded, db):
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    admins = User.objects.filter(assignments__role=Role.ADMIN).distinct().count()
    # Each demo administrator gets a second factor marked as a demo's (`jiedao twofactor code`).
    assert actions == ["org.demo.seed_subdistrict", *["org.second_factor.demo"] * admins, "org.demo.seed"]
    assert SecondFactor.objects.filter(is_demo=True, confirmed_at__isnull=False).count() == admins >= 1
    assert AuditEvent.objects.get(action="org.demo.seed").after["nodes"]["microgrid"] == 612
    assert audit.verify_chain().ok


def test_refuses_a_non_empty_org_tree(seeded, db):
    with pytest.raises(demo.DemoError):
        demo.seed("tiny")


def test_same_seed_same_names_and_codes(seeded, db):
    def planned(seed: int) -> list[tuple]:
        plan = demo.plan_demo("subdistrict", seed)
        sub = next(plan.subdistricts)
        return [(n.path, str(n.kind), n.name, n.code) for n in sub.nodes()] + [
            (u.username, u.full_name) for u in sub.users
        ]

    first = planned(SEED)
    assert first == planned(SEED)
    assert first != planned(SEED + 1)
    written = [(path, str(kind), name, code) for path, kind, name, code in
               OrgNode.objects.order_by("id").values_list("path", "kind", "name", "code")]
    written += list(User.objects.order_by("id").values_list("username", "full_name"))
    assert written == first


def test_demo_accounts_describe_the_important_logins(seeded, db):
    accounts = {a.username: a for a in demo.demo_accounts()}
    assert {"admin", "leader", "shuji01", "wangge01", "keshi04", "louzhang01"} <= set(accounts)
    assert accounts["admin"].role == "系统管理员" and accounts["admin"].node == "丹西街道"
    assert accounts["wangge01"].node in accounts["wangge01"].sees


def test_split_quad_tiles_the_parent_without_gaps():
    def area(quad) -> float:
        ring = [*quad, quad[0]]
        return abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring))) / 2

    parent = demo.extent_quad(*demo.DANXI_EXTENT)
    for count in (1, 2, 7, 30):
        cells = demo.split_quad(parent, count, random.Random(count))
        assert len(cells) == count
        assert sum(area(cell) for cell in cells) == pytest.approx(area(parent), rel=1e-9)


@pytest.mark.parametrize(("number", "text"), [(1, "一"), (10, "十"), (12, "十二"), (35, "三十五"), (105, "一百零五"), (110, "一百一十")])
def test_chinese_number(number, text):
    assert demo.chinese_number(number) == text
