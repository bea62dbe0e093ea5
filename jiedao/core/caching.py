"""Per-process caches of small, rarely changing data read on every request: API tokens, a
user's role assignments, org nodes, the case catalogue and its routing rules, the 办件规则, the
working-day table (holiday overrides and declared years).

Correctness comes from one generation counter in the database (jiedao.core.models.
CacheGeneration). Every service that changes such data calls `bump()` inside its own
transaction; a process reads the counter once per request (one primary-key query; the value is
remembered for the rest of the request) and drops everything it cached at an older generation.
So a revoked token, a removed role, a deactivated user or an edited category stops being used by
every process from the first request that starts after the change commits — not after a TTL.

Writes that bypass the services (`jiedao seed`, a manage.py shell) do not bump; as a backstop
nothing is kept longer than MAX_AGE seconds.

Cached values are plain tuples and dicts; callers build fresh model instances from them
(`instance`), so no two requests ever share a mutable object.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connection, models, transaction

NAME = "config"
MAX_AGE = 60.0  # seconds: backstop for writes that did not go through a service
MAX_ENTRIES = 50_000  # a runaway key space (e.g. many users) empties the cache rather than grow
MISSING = object()

T = TypeVar("T")

_lock = threading.Lock()
_store: dict[Any, Any] = {}
_store_generation = -1
_store_started = 0.0
# The generation this request read (None outside a request, or after this request bumped it).
_seen: contextvars.ContextVar[int | None] = contextvars.ContextVar("jiedao_cache_generation", default=None)


def _read() -> int:
    from jiedao.core.models import CacheGeneration

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT value FROM {CacheGeneration._meta.db_table} WHERE name = %s", [NAME])
        row = cursor.fetchone()
    return row[0] if row else 0


def generation() -> int:
    """The current generation, read at most once per request."""
    seen = _seen.get()
    if seen is None:
        seen = _read()
        if _in_request.get():
            _seen.set(seen)
    return seen


_in_request: contextvars.ContextVar[bool] = contextvars.ContextVar("jiedao_cache_in_request", default=False)


def in_request() -> bool:
    """Whether this code runs inside a request (where the generation is read once per request)."""
    return _in_request.get()


def start_request() -> tuple[contextvars.Token, contextvars.Token]:
    """Called by RequestContextMiddleware: the generation is read afresh by each request."""
    return _in_request.set(True), _seen.set(None)


def end_request(tokens: tuple[contextvars.Token, contextvars.Token]) -> None:
    _in_request.reset(tokens[0])
    _seen.reset(tokens[1])


def bump() -> None:
    """Mark every process's cache stale; call inside the transaction that makes the change, so
    the new generation becomes visible exactly when the change does."""
    from jiedao.core.models import CacheGeneration

    with transaction.atomic(savepoint=False):
        if not CacheGeneration.objects.filter(name=NAME).update(value=models.F("value") + 1):
            CacheGeneration.objects.get_or_create(name=NAME, defaults={"value": 1})
    _seen.set(None)
    transaction.on_commit(clear)  # this process need not wait for its next request


_clear_hooks: list[Callable[[], None]] = []


def on_clear(hook: Callable[[], None]) -> None:
    """Register what else to drop with `clear()` (caches kept outside this module's store)."""
    _clear_hooks.append(hook)


def clear() -> None:
    """Drop everything cached in this process (tests, after a bump)."""
    global _store_generation
    with _lock:
        _store.clear()
        _store_generation = -1
    for hook in _clear_hooks:
        hook()


def get(key: Any, load: Callable[[], T]) -> T:
    """The cached value of `key`, loading (and remembering) it with `load()` when missing or stale."""
    global _store, _store_generation, _store_started
    current = generation()
    now = time.monotonic()
    if current != _store_generation or now - _store_started > MAX_AGE or len(_store) > MAX_ENTRIES:
        with _lock:
            if current > _store_generation or now - _store_started > MAX_AGE or len(_store) > MAX_ENTRIES:
                _store, _store_generation, _store_started = {}, current, now
        if current != _store_generation:  # this request started before a newer generation: no cache
            return load()
    value = _store.get(key, MISSING)
    if value is MISSING:
        value = load()
        _store[key] = value
    return value


def put(key: Any, value: Any) -> None:
    """Replace a cached value (e.g. a token's last-used time after touching it)."""
    if _store_generation == generation():
        _store[key] = value


M = TypeVar("M", bound=models.Model)


def row(obj: models.Model, exclude: tuple[str, ...] = ()) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """An instance's loaded concrete fields as (attnames, values), for `instance`."""
    deferred = obj.get_deferred_fields()
    names = tuple(f.attname for f in obj._meta.concrete_fields if f.attname not in deferred and f.name not in exclude)
    return names, tuple(getattr(obj, name) for name in names)


def instance(model: type[M], cached: tuple[tuple[str, ...], tuple[Any, ...]]) -> M:
    """A fresh model instance from `row()` output (fields not cached stay deferred)."""
    names, values = cached
    return model.from_db(connection.alias, names, values)


# Writes made with the ORM outside the services (fixtures, the demo seeder, a shell) still empty
# this process's cache at once; other processes rely on the services' bump() or MAX_AGE.
WATCHED = ("org.OrgNode", "org.Department", "org.RoleAssignment", "org.User", "core.ApiToken", "cases.Category",
           "cases.RoutingRule", "cases.CasePolicy", "core.WorkdayOverride", "core.WorkdayYear")


def _changed(sender: Any, instance: Any = None, update_fields: Any = None, **kwargs: Any) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # a login does not change anything cached
    clear()


def connect_signals() -> None:
    from django.db.models.signals import post_delete, post_save

    for label in WATCHED:
        post_save.connect(_changed, sender=label, dispatch_uid=f"jiedao-cache-save-{label}")
        post_delete.connect(_changed, sender=label, dispatch_uid=f"jiedao-cache-delete-{label}")
