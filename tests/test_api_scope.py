"""Every route of /api/v1 is in a scope table, and passes the checks its entry inherits.

See tests/scope.py for the entries and the checks; the tables are tests/<app>/scope_table.py.
A route added without a table entry fails `test_every_route_is_in_exactly_one_scope_table`.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections import Counter, defaultdict

import pytest
from django.http import Http404
from ninja import NinjaAPI, Router

import tests
from jiedao.core import caching
from tests.api_client import ApiClient
from tests.cases.test_views import png_upload
from tests.db_snapshot import RowSnapshot
from tests.scope import MISSING, NOT_FOUND, UNSCOPED_KINDS, call, database_state, discovered_routes

# Every tests/<app>/scope_table.py: a new app's table is picked up by being there.
TABLES = {
    app.name: importlib.import_module(f"tests.{app.name}.scope_table")
    for app in sorted(pkgutil.iter_modules(tests.__path__), key=lambda m: m.name)
    if app.ispkg and importlib.util.find_spec(f"tests.{app.name}.scope_table")
}
ENTRIES = [(app, endpoint) for app, table in TABLES.items() for endpoint in table.ENDPOINTS]


def _params(select):
    chosen = [(app, e) for app, e in ENTRIES if select(e)]
    return pytest.mark.parametrize(("app", "endpoint"), chosen, ids=[e.label() for _app, e in chosen])


# --- the tables list exactly the routes --------------------------------------------------------


def test_every_route_is_in_exactly_one_scope_table():
    listed = Counter(endpoint.route for _app, endpoint in ENTRIES)
    assert [route for route, n in listed.items() if n > 1] == []
    discovered = discovered_routes()
    assert discovered - set(listed) == set(), "routes without a scope table entry"
    assert set(listed) - discovered == set(), "table entries for routes that do not exist"
    assert discovered == set(listed)


def test_route_discovery_sees_a_new_router_and_operations_hidden_from_the_schema():
    """What the check above relies on, shown on APIs of its own."""
    router = Router()

    @router.get("/things/{thing_id}")
    def thing(request, thing_id: int):
        raise Http404

    probe = NinjaAPI(urls_namespace="scope-probe")
    probe.add_router("/probe", router)
    assert discovered_routes(probe) == {("GET", "/probe/things/{}")}

    hidden = Router()

    @hidden.post("/secret", include_in_schema=False)
    def secret(request):
        raise Http404

    sneaky = NinjaAPI(urls_namespace="scope-probe-hidden")
    sneaky.add_router("/probe", hidden)
    with pytest.raises(AssertionError, match="served but not in the schema"):
        discovered_routes(sneaky)


# --- the objects each table's requests name ----------------------------------------------------


@pytest.fixture(scope="session")
def _scope_files(tmp_path_factory):
    """Files the tables' objects keep outside the database (a photo, an import upload, the keyring),
    shared by every test of the process as the rows are."""
    return tmp_path_factory.mktemp("scope")


@pytest.fixture(autouse=True)
def _scope_settings(settings, _scope_files):
    settings.MEDIA_ROOT = _scope_files / "media"
    settings.DATA_DIR = _scope_files / "data"
    settings.JIEDAO_KEYRING = str(_scope_files / "keyring.json")


_captured: dict[str, tuple[RowSnapshot, dict]] = {}


@pytest.fixture
def objects(world, app) -> dict:
    """The ids of the world and of the app table's objects, written into this test's database
    (built through the services once per process, replayed after that)."""
    if app not in _captured:
        _captured[app] = RowSnapshot.capture(lambda: TABLES[app].build(world))
        caching.clear()
    snapshot, ids = _captured[app]
    snapshot.restore()
    return {**{name: obj.pk for name, obj in vars(world).items()}, **ids}


def _missing(ids: dict, key: str) -> dict:
    return {**ids, key: MISSING}


# --- the inherited checks ----------------------------------------------------------------------


@_params(lambda e: True)
def test_without_credentials_401_and_nothing_changes(client, db, app, endpoint):
    anonymous = ApiClient(client, None)
    state = database_state()
    response = call(anonymous, endpoint, defaultdict(lambda: MISSING), png_upload)
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "unauthenticated"
    assert database_state() == state


@_params(lambda e: e.kind not in UNSCOPED_KINDS and e.scope_key)
def test_outsiders_get_404_like_a_missing_id_and_nothing_changes(world, objects, as_, app, endpoint):
    owner = as_(getattr(world, endpoint.owner))
    outsiders = [as_(getattr(world, name)) for name in endpoint.outsiders]
    state = database_state()
    for api in outsiders:
        response = call(api, endpoint, objects, png_upload)
        missing = call(api, endpoint, _missing(objects, endpoint.scope_key), png_upload)
        assert response.status_code == missing.status_code == 404, (api.user.username, response.content)
        assert response.json() == missing.json(), api.user.username
        assert response.json()["code"] == "not_found" and response.json()["detail"] == NOT_FOUND
        assert database_state() == state, api.user.username
    # the positive control: the owner of the place is let through (whatever the business outcome)
    control = call(owner, endpoint, objects, png_upload)
    assert control.status_code not in (401, 403, 404) and control.status_code < 500, control.content


@_params(lambda e: e.forbidden)
def test_who_sees_but_may_not_gets_403_and_nothing_changes(world, objects, as_, app, endpoint):
    api = as_(getattr(world, endpoint.forbidden))
    owner = as_(getattr(world, endpoint.owner)) if endpoint.owner else None
    state = database_state()
    response = call(api, endpoint, objects, png_upload)
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "forbidden"
    assert database_state() == state
    if owner is not None:
        control = call(owner, endpoint, objects, png_upload)
        assert control.status_code not in (401, 403, 404) and control.status_code < 500, control.content


@_params(lambda e: e.listed)
def test_lists_show_the_owner_what_outsiders_do_not_see(world, objects, as_, app, endpoint):
    wanted = objects[endpoint.listed]
    owned = call(as_(getattr(world, endpoint.owner)), endpoint, objects, png_upload)
    assert owned.status_code == 200, owned.content
    assert wanted in [item["id"] for item in owned.json()["items"]]
    for name in endpoint.outsiders:
        # unfiltered: everything the outsider may see
        response = call(as_(getattr(world, name)), endpoint, objects, png_upload, data=None)
        assert response.status_code == 200, response.content
        assert wanted not in [item["id"] for item in response.json()["items"]], name
