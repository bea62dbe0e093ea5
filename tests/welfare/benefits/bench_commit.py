"""Not collected (bench_*): CPU seconds of committing a 3,000-row payment list (1,000 people ×
3 months, half with an existing grant). Run: pytest -s tests/welfare/benefits/bench_commit.py"""

import time
from datetime import date

import pytest
from django.db import connection

from jiedao.core import imports
from jiedao.people import services as people_services
from jiedao.welfare.benefits import services
from jiedao.welfare.models.benefits import Payment

from .conftest import ident
from .test_import import run, xlsx

pytestmark = pytest.mark.django_db


def test_bench(world, ben, settings):
    people = []
    for k in range(1000):
        n = (100 + k % 500, 1940 + k // 500)
        r = people_services.resident_create(actor=world.admin, node=world.building, name=f"居民{k}",
                                            id_number=ident(*n))
        people.append((k, n))
        if k % 2:
            services.grant_create(actor=world.admin, programme=ben.longevity, resident=r,
                                  starts_on=date(2026, 1, 1), amount="100")
    rows = [[i, f"居民{k}", ident(*n), "长寿补贴", f"2026-0{m}", 1, 100, ""]
            for i, (m, (k, n)) in enumerate(((m, p) for p in people for m in (3, 2, 4)), 1)]
    job = run(world, xlsx(rows))
    assert job.good_rows == 3000, imports.read_errors(job)[:3]
    start, wall = time.process_time(), time.perf_counter()
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(1)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        job = imports.import_commit(actor=world.secretary, job=job)
    cpu, wall = time.process_time() - start, time.perf_counter() - wall
    assert job.created_rows == 3000 and Payment.objects.count() == 3000
    print(f"\nBENCH commit 3000 rows: cpu {cpu:.2f}s wall {wall:.2f}s queries {len(queries)}")
