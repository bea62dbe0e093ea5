"""Rate-limit counters: core.RateCounter's atomic upsert against Django's DatabaseCache.

    JIEDAO_DATA_DIR=$(mktemp -d) .venv/bin/jiedao manage migrate -v 0   # then, same data dir:
    JIEDAO_DATA_DIR=… .venv/bin/python -m bench.limits

Speed: 1,000 hits over 50 keys in one process. Correctness: 4 processes × 50 hits on one key;
the final count must be 200 (docs/benchmarks.md, "Rate limits across processes").
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiedao.settings")

CACHE = {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "bench_limits_cache"}


def setup() -> None:
    import django
    from django.conf import settings

    django.setup()
    settings.CACHES["bench_limits"] = CACHE


def hit_dbcache(key: str) -> int:
    from django.core.cache import caches

    cache = caches["bench_limits"]
    cache.add(key, 0, 3600)
    try:
        return cache.incr(key)
    except ValueError:
        cache.set(key, 1, 3600)
        return 1


def hit_upsert(key: str) -> int:
    from jiedao.core import limits

    return limits.hit(key, 3600)


def worker(kind: str, n: int, queue) -> None:
    setup()
    hit = hit_upsert if kind == "upsert" else hit_dbcache
    queue.put(max(hit("bench:race") for _ in range(n)))


def main() -> None:
    setup()
    from django.core.management import call_command

    call_command("createcachetable", verbosity=0)
    for kind, hit in (("upsert", hit_upsert), ("dbcache", hit_dbcache)):
        started = time.perf_counter()
        for i in range(1000):
            hit(f"bench:{i % 50}")
        print(f"{kind}: {time.perf_counter() - started:.2f} ms per hit (1,000 hits)")
    for kind in ("upsert", "dbcache"):
        queue = mp.Queue()
        processes = [mp.Process(target=worker, args=(kind, 50, queue)) for _ in range(4)]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        print(f"{kind}: 4 processes × 50 hits → final count {max(queue.get() for _ in processes)} (200 expected)")


if __name__ == "__main__":
    main()
