"""Rate limits that hold across processes and servers.

A limit is a fixed-window counter: `hit(key, window)` counts one use and answers how many uses the
key has had since its window began. Every worker process of `jiedao serve` (and every server behind
one database) counts in the same place:

- by default a row of core.RateCounter, counted with one atomic upsert
  (INSERT … ON CONFLICT DO UPDATE … RETURNING, on SQLite ≥ 3.35 and PostgreSQL): no read-then-write
  race, so 100 concurrent posts against a limit of 10 let exactly 10 through. Django's
  DatabaseCache was not used: its incr() is a get followed by a set, which loses counts under
  concurrency, and each call costs two or three statements instead of one;
- with JIEDAO_REDIS_URL, the Redis cache (settings.CACHES), whose add/incr are atomic in Redis.

The per-process caches of jiedao.core.caching (rows kept until a generation moves) and the
computed-figure cache (settings.CACHES, local memory by default) stay per process: a stale copy
there costs freshness, never a limit.

A counter written inside a transaction that is rolled back is rolled back with it. Callers whose
refusal rolls back their own work count before they enter their transaction (people's ID clashes)
or after it ended (imports' `settle`); the others refuse only after the count is already over the
limit, so a refusal never lowers the count below the limit.
"""

from __future__ import annotations

import random
import time

from django.conf import settings
from django.db import connection

_PURGE_EVERY = 500  # about one hit in this many also deletes expired counters


def _redis() -> bool:
    return bool(getattr(settings, "REDIS_URL", ""))


def hit(key: str, window: int, *, uses: int = 1) -> int:
    """Count `uses` (one by default) of `key`; the number of uses in the current window."""
    if _redis():
        from django.core.cache import cache

        cache.add(key, 0, window)
        try:
            return cache.incr(key, uses)
        except ValueError:  # expired between add and incr
            cache.set(key, uses, window)
            return uses
    from jiedao.core.models import RateCounter

    now = time.time()
    table = connection.ops.quote_name(RateCounter._meta.db_table)
    with connection.cursor() as cursor:
        q = connection.ops.quote_name
        k, c, e = q("key"), q("count"), q("expires")
        cursor.execute(
            f"INSERT INTO {table} ({k}, {c}, {e}) VALUES (%s, %s, %s) "
            f"ON CONFLICT ({k}) DO UPDATE SET "
            f"{c} = CASE WHEN {table}.{e} <= %s THEN excluded.{c} ELSE {table}.{c} + excluded.{c} END, "
            f"{e} = CASE WHEN {table}.{e} <= %s THEN excluded.{e} ELSE {table}.{e} END "
            f"RETURNING {c}",
            [key[:200], uses, now + window, now, now],
        )
        count = cursor.fetchone()[0]
    if random.randrange(_PURGE_EVERY) == 0:
        purge(now)
    return count


def peek(key: str) -> int:
    """Uses of `key` in its current window, without counting one (0 if none or expired)."""
    if _redis():
        from django.core.cache import cache

        return cache.get(key) or 0
    from jiedao.core.models import RateCounter

    row = RateCounter.objects.filter(key=key[:200], expires__gt=time.time()).values_list("count", flat=True).first()
    return row or 0


def purge(now: float | None = None) -> int:
    """Delete the counters whose window has ended; how many."""
    from jiedao.core.models import RateCounter

    deleted, _ = RateCounter.objects.filter(expires__lte=now if now is not None else time.time()).delete()
    return deleted


def reset() -> None:
    """Forget every counter (tests)."""
    if _redis():
        from django.core.cache import cache

        cache.clear()
        return
    from jiedao.core.models import RateCounter

    RateCounter.objects.all().delete()


def expired_sweep() -> str:
    """Periodic job `expired_sweep` (hourly): delete the rate counters whose window has ended and
    the expired sessions, so neither an address's counts nor a signed-out session's row outlive
    their use (residual information)."""
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    counters = purge()
    sessions, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return f"计数 {counters}，会话 {sessions}"
