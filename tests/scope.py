"""Scope tables: every route of /api/v1 is listed in one, saying how its scope is checked.

Each app keeps its table in tests/<app>/scope_table.py: `ENDPOINTS` (a list of `Endpoint`) and
`build(world)`, which creates the objects the paths and bodies name and returns their ids.
tests/test_api_scope.py discovers the routes of the running NinjaAPI, requires the tables to list
exactly those, and runs the checks each entry inherits from its kind (NetBox-style):

- every endpoint: without credentials 401, and nothing changes;
- an endpoint about a scoped object (in the path, a query filter or the body): each outsider
  gets 404 with exactly the body of the same request naming a missing id, nothing changes, and
  the owner of the place is let through (the positive control);
- `forbidden`: a user who sees the object but lacks the permission gets 403, nothing changes
  (every write names one, or says in `why_no_403` why everyone who sees the object may);
- `listed` (lists): the owner's list shows the object, the outsiders' lists do not.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import connection

MISSING = 987654
NOT_FOUND = "未找到该对象。"
OUTSIDERS = ("other_worker", "village_worker")  # the world's grid workers of another grid and village

# What an entry is; reference and own endpoints have no scope to check and must say why.
KINDS = ("list", "detail", "create", "update", "delete", "action", "export", "reference", "own")
UNSCOPED_KINDS = ("reference", "own")
WRITE_KINDS = ("create", "update", "delete", "action")

# The NinjaAPI's own plumbing, not endpoints: the schema, the docs page, and the JSON 404 for
# unknown paths under /api/v1/ (jiedao/api.py's fallback router).
NOT_ENDPOINTS = {"", "openapi.json", "docs", "{}"}

PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Endpoint:
    """One (method, path) of the API and how its scope is checked.

    `path` is relative to /api/v1 with placeholders named after the ids `build` returns
    ({case}, {grid}); `data` is the query (GET) or the body, with the same placeholders, and
    "{upload}" for a fresh small PNG.
    """

    method: str
    path: str
    kind: str
    data: Any = None
    owner: str = ""  # a named user of the world who may: the positive control of every check
    outsiders: tuple[str, ...] = OUTSIDERS
    forbidden: str = ""  # a named user who sees the object but may not do this: 403
    listed: str = ""  # lists: the placeholder of an object the owner's list shows and outsiders' do not
    why: str = ""  # reference and own endpoints: why no scope applies
    why_no_403: str = ""  # writes without `forbidden`: why everyone who sees the object may do this
    multipart: bool = False

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self
        if self.kind in UNSCOPED_KINDS:
            assert self.why, f"{self.label()}: an entry without scope says why"
            assert not self.owner or self.forbidden, f"{self.label()}: an unscoped owner is the 403 check's control"
        else:
            assert self.owner, f"{self.label()}: a scoped entry names a user who may (the positive control)"
            assert self.scope_key or self.listed, f"{self.label()}: a scoped entry names what outsiders may not see"
        if self.kind in WRITE_KINDS:
            assert bool(self.forbidden) != bool(self.why_no_403), f"{self.label()}: name who may not, or why none"

    @property
    def route(self) -> tuple[str, str]:
        return self.method, normalise(self.path)

    @property
    def scope_key(self) -> str:
        """The placeholder of the object outsiders may not see: the first in the path, else in the data."""
        names = PLACEHOLDER.findall(self.path) or PLACEHOLDER.findall(repr(self.data))
        return next((n for n in names if n != "upload"), "")

    def label(self) -> str:
        return f"{self.method} {self.path}"


def normalise(path: str) -> str:
    """A path with its parameters' names removed: /cases/{case_id} and /cases/{case} are one route."""
    return PLACEHOLDER.sub("{}", re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", path)).rstrip("/") or "/"


def discovered_routes(api=None) -> set[tuple[str, str]]:
    """Every (method, path) a NinjaAPI (the project's by default) serves, read from the running API.

    The methods come from its OpenAPI schema; the URL patterns it installs are compared with the
    schema's paths, so an operation hidden from the schema cannot escape the tables either.
    """
    if api is None:
        from jiedao.api import api

    schema = api.get_openapi_schema(path_prefix="")
    routes = {(method.upper(), normalise(path))
              for path, operations in schema["paths"].items() for method in operations}
    served = {normalise("/" + str(pattern.pattern)) for pattern in api.urls[0]}
    served -= {normalise("/" + name) for name in NOT_ENDPOINTS}
    documented = {path for _method, path in routes}
    assert served == documented, f"served but not in the schema: {served - documented}"
    return routes


def fill(value: Any, ids: dict[str, Any], upload: Callable[[], Any]) -> Any:
    if value == "{upload}":  # a fresh file for every request (an upload is read once)
        return upload()
    if isinstance(value, str) and PLACEHOLDER.fullmatch(value):
        return ids[value[1:-1]]
    if isinstance(value, dict):
        return {k: fill(v, ids, upload) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids, upload) for v in value]
    return value


AS_LISTED = object()


def call(api, endpoint: Endpoint, ids: dict[str, Any], upload: Callable[[], Any], *, data: Any = AS_LISTED):
    """Send the endpoint's request through an ApiClient (with the entry's data unless told otherwise)."""
    url = PLACEHOLDER.sub(lambda m: str(ids[m.group(1)]), endpoint.path)
    payload = fill(endpoint.data if data is AS_LISTED else data, ids, upload)
    if endpoint.method == "GET":
        return api.get(url, **(payload or {}))
    if endpoint.method == "DELETE":
        return api.delete(url)
    if endpoint.method == "POST":
        return api.post(url, payload, multipart=endpoint.multipart)
    return getattr(api, endpoint.method.lower())(url, payload)


# Columns a refused request may still touch: the token's last use is recorded on every request.
VOLATILE = {"core.apitoken": {"last_used_at"}}


@functools.cache
def _table_queries() -> tuple[tuple[str, str], ...]:
    queries = []
    for model in apps.get_models(include_auto_created=True):
        if not model._meta.managed or model._meta.proxy:
            continue
        skip = VOLATILE.get(model._meta.label_lower, set())
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in model._meta.concrete_fields if f.attname not in skip)
        sql = f"SELECT {columns} FROM {quote(model._meta.db_table)} ORDER BY {quote(model._meta.pk.column)}"
        queries.append((model._meta.label_lower, sql))
    return tuple(queries)


def database_state() -> dict[str, list[tuple]]:
    """Every row of every table (small in tests): a refused request must leave all of it as it was."""
    state = {}
    with connection.cursor() as cursor:
        for label, sql in _table_queries():
            cursor.execute(sql)
            state[label] = cursor.fetchall()
    return state
