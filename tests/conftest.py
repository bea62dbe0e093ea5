"""Shared fixtures: a small sub-district built through the services, and named users per role.

    丹西街道 (subdistrict)
    ├── 东门社区 (community)
    │   ├── 东门第一网格 (grid) ── 一号微网格 (microgrid) ── 1幢 (building)
    │   └── 东门第二网格 (grid)
    └── 横塘村 (village) ── 横塘第一网格 (grid)

Named users: root (superuser), admin, leader, secretary (东门社区), worker (东门第一网格),
other_worker (东门第二网格), village_worker (横塘第一网格), handler (城建办).

The world is built through the audited services once per test process and its rows are replayed
in each test that asks for it (tests/db_snapshot.py), inside pytest-django's per-test
transaction; every test gets fresh instances of its objects. API tests talk through `as_`
(tests/api_client.py).
"""

from __future__ import annotations

import pickle
import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import override_settings

from jiedao.core.permissions import Role
from jiedao.org import services
from jiedao.org.models import Department, NodeKind, OrgNode, User
from tests.api_client import ROOT, ApiClient
from tests.db_snapshot import RowSnapshot

PASSWORD = "Jiedao-test-2026"
TEST_SETTINGS = {
    "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
    "JIEDAO_TASKS": "eager",
    "JIEDAO_INSIGHT_RECHECK_SECONDS": 0,  # the classifier sees catalogue changes at once
}


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path_factory):
    for name, value in TEST_SETTINGS.items():
        setattr(settings, name, value)
    # Each test writes its files (imports, keys) in its own directory: parallel workers have
    # their own databases, so job ids repeat across them.
    data_dir = tmp_path_factory.mktemp("data")
    settings.DATA_DIR = data_dir
    _process_audit_key()  # from the default keyring, before it is replaced
    settings.JIEDAO_KEYRING = str(data_dir / "keys" / "keyring.json")
    # Each test has its own keyring, but one audit key per process: the world's replayed audit
    # rows were signed with it when the world was built.
    keyring_with_the_audit_key(settings.JIEDAO_KEYRING)


_AUDIT_KEY: bytes | None = None


def _process_audit_key() -> bytes:
    """The audit key of the default keyring ($JIEDAO_DATA_DIR/keys, shared by the xdist workers),
    which fixtures built before any test (module and session scope) sign with; added if missing."""
    global _AUDIT_KEY
    if _AUDIT_KEY is None:
        import fcntl

        from django.conf import settings

        from jiedao.core import crypto

        path = Path(settings.JIEDAO_KEYRING)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            ring = crypto.Keyring.from_json(path.read_text(), path) if path.exists() else crypto.Keyring.generate(path)
            if not ring.audit_key:
                ring.audit_key = secrets.token_bytes(32)
                ring.save()
        crypto.reload_keyring()
        _AUDIT_KEY = ring.audit_key
    return _AUDIT_KEY


def keyring_with_the_audit_key(path: str | Path) -> str:
    """A new keyring file at `path` holding the test process's audit key."""
    from jiedao.core import crypto

    ring = crypto.Keyring.generate(Path(path))
    ring.audit_key = _process_audit_key()
    ring.save()
    return str(path)


def _flush_past_the_audit_triggers() -> None:
    """A transactional test's flush empties every table, the append-only audit tables too: it
    drops their triggers around the flush (as only someone with DDL rights can) and recreates them."""
    from django.core.management.commands import flush

    from jiedao.core import audit_guard

    original = flush.sql_flush

    def sql_flush(style, connection, *args, **kwargs):
        statements = original(style, connection, *args, **kwargs)
        if not statements:
            return statements
        return [*audit_guard.drop_sql(connection.vendor), *statements, *audit_guard.create_sql(connection.vendor)]

    flush.sql_flush = sql_flush


_flush_past_the_audit_triggers()


@pytest.fixture(autouse=True)
def _fresh_caches():
    """The per-process caches (jiedao.core.caching) start empty in every test: rolled-back
    tests reuse primary keys."""
    from django.core.cache import cache

    from jiedao.core import caching

    caching.clear()
    cache.clear()  # the dashboard's fragments are keyed by generations a rolled-back test repeats
    yield
    caching.clear()


@pytest.fixture(autouse=True)
def _migrated_rows(request):
    """Migrations create the audit chain heads and the cache generation row; a transactional
    test's flush removes them (and the world's rows update them)."""
    names = set(request.fixturenames)
    if "transactional_db" in names or "live_server" in names:
        request.getfixturevalue("transactional_db")
    elif "db" in names or request.node.get_closest_marker("django_db"):
        request.getfixturevalue("db")
    else:
        return
    restore_migrated_rows()


def restore_migrated_rows() -> None:
    from jiedao.core import caching
    from jiedao.core.audit import ensure_chain_heads
    from jiedao.core.models import CacheGeneration

    ensure_chain_heads()
    CacheGeneration.objects.get_or_create(name=caching.NAME, defaults={"value": 0})


@dataclass
class World:
    root: User
    admin: User
    leader: User
    secretary: User
    worker: User
    other_worker: User
    village_worker: User
    handler: User
    subdistrict: OrgNode
    community: OrgNode
    village: OrgNode
    grid: OrgNode
    other_grid: OrgNode
    village_grid: OrgNode
    microgrid: OrgNode
    building: OrgNode
    department: Department


def _user(actor: User, username: str, full_name: str, home: OrgNode, role: str, node: OrgNode, department=None) -> User:
    user = services.user_create(actor=actor, username=username, full_name=full_name, home_node=home, password=PASSWORD)
    services.role_assign(actor=actor, user=user, role=role, node=node, department=department)
    return user


def build_world() -> World:
    root = User.objects.create_superuser("root", password=PASSWORD, full_name="超级管理员")
    sub = services.node_create(actor=root, parent=None, kind=NodeKind.SUBDISTRICT, name="丹西街道", code="330225002000")
    community = services.node_create(actor=root, parent=sub, kind=NodeKind.COMMUNITY, name="东门社区", code="330225002001")
    village = services.node_create(actor=root, parent=sub, kind=NodeKind.VILLAGE, name="横塘村", code="330225002201")
    grid = services.node_create(actor=root, parent=community, kind=NodeKind.GRID, name="东门第一网格", code="330225002001001")
    other_grid = services.node_create(actor=root, parent=community, kind=NodeKind.GRID, name="东门第二网格", code="330225002001002")
    village_grid = services.node_create(actor=root, parent=village, kind=NodeKind.GRID, name="横塘第一网格", code="330225002201001")
    micro = services.node_create(actor=root, parent=grid, kind=NodeKind.MICROGRID, name="一号微网格", code="330225002001001001")
    building = services.node_create(actor=root, parent=micro, kind=NodeKind.BUILDING, name="1幢", floors=6, units=2)
    department = services.department_create(actor=root, subdistrict=sub, name="城建办")
    admin = _user(root, "admin", "管理员", sub, Role.ADMIN, sub)
    return World(
        root=root,
        admin=admin,
        leader=_user(admin, "leader", "李主任", sub, Role.LEADER, sub),
        secretary=_user(admin, "secretary", "王书记", community, Role.COMMUNITY_SECRETARY, community),
        worker=_user(admin, "worker", "张网格", grid, Role.GRID_WORKER, grid),
        other_worker=_user(admin, "other_worker", "赵网格", other_grid, Role.GRID_WORKER, other_grid),
        village_worker=_user(admin, "village_worker", "钱网格", village_grid, Role.GRID_WORKER, village_grid),
        handler=_user(admin, "handler", "孙科员", sub, Role.DEPARTMENT_HANDLER, sub, department),
        subdistrict=sub,
        community=community,
        village=village,
        grid=grid,
        other_grid=other_grid,
        village_grid=village_grid,
        microgrid=micro,
        building=building,
        department=department,
    )


@pytest.fixture(scope="session")
def _world_snapshot(django_db_setup, django_db_blocker, tmp_path_factory) -> tuple[RowSnapshot, bytes]:
    """The world is built through the services once per test process; each test replays its rows."""
    from jiedao.core import caching
    from jiedao.core.models import AuditEvent

    data_dir = tmp_path_factory.mktemp("world")
    keyring = keyring_with_the_audit_key(data_dir / "keys" / "keyring.json")
    with django_db_blocker.unblock(), override_settings(**TEST_SETTINGS, DATA_DIR=data_dir, JIEDAO_KEYRING=keyring):
        restore_migrated_rows()  # as `_migrated_rows` leaves it for every test
        assert not AuditEvent.objects.exists(), "the world must be captured from an empty database"
        snapshot, built = RowSnapshot.capture(build_world)
    caching.clear()  # the build cached rows that were rolled back
    return snapshot, pickle.dumps(built)


@pytest.fixture
def world(_world_snapshot, _migrated_rows, db) -> World:
    """The rows of `build_world` in this test's database, and fresh instances of its objects."""
    snapshot, built = _world_snapshot
    snapshot.restore()
    return pickle.loads(built)


@pytest.fixture
def as_(client, request):
    """as_(user) -> an ApiClient with a token of `user` (one per user and test). Paths are relative
    to the test module's BASE when it defines one (e.g. "/api/v1/people"), else to /api/v1."""
    base = getattr(request.module, "BASE", ROOT)
    clients: dict[int, ApiClient] = {}

    def as_user(user) -> ApiClient:
        if user.pk not in clients:
            clients[user.pk] = ApiClient(client, user, base)
        return clients[user.pk]

    return as_user
