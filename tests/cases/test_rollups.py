"""Rollups that stay exact and cheap: append-only deltas, the fold into fine and coarse tables,
readers that add pending deltas, scope selection, the bulk history of the large demo scales."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jiedao.cases import services
from jiedao.cases.models import (
    Case,
    CaseStat,
    CaseStatArea,
    CaseStatAreaTotal,
    CaseStatDelta,
    CaseTransition,
    Category,
    Rating,
    Source,
    State,
    Tier,
)
from jiedao.cases.statistics import rollups, stats
from jiedao.cases.statistics.figures import case_figures
from jiedao.cases.workflow import Action
from jiedao.core.models import AuditEvent
from jiedao.org.models import OrgNode

ON_POSTGRES = "postgresql" in settings.DATABASES["default"]["ENGINE"]
COUNTERS = rollups.COUNTERS


def period() -> tuple[date, date]:
    this_month = timezone.localdate().replace(day=1)
    return this_month - timedelta(days=400), this_month + timedelta(days=40)


def file_case(world, catalogue, *, node=None, category="garbage", actor=None):
    return services.case_create(
        actor=actor or world.worker, source=Source.DOOR_VISIT, node=node or world.grid, title="楼下垃圾无人清运",
        description="垃圾堆放三天。", category=catalogue[category] if category else None,
        suggest=False,  # an uncategorised case stays uncategorised (no suggested category filed)
    )


def walk(world, case, *, to_close: bool):
    for actor, action, kw in [(world.secretary, Action.ACCEPT, {}), (world.secretary, Action.DISPATCH, {}),
                              (world.handler, Action.ACKNOWLEDGE, {}),
                              (world.handler, Action.RESOLVE, {"reason": "已清运"})]:
        case = services.case_act(actor=actor, case=case, action=action, **kw)
    if to_close:
        case = services.case_act(actor=world.worker, case=case, action=Action.VERIFY_PASS)
        case = services.case_act(actor=None, ticket=case.ticket, case=case, action=Action.FOLLOW_UP,
                                 contacted=True, solved=True, rating=Rating.SATISFIED)
        case = services.case_act(actor=world.secretary, case=case, action=Action.CLOSE)
    return case


def figures(path):
    start, end = period()
    return {
        "totals": stats.totals(path, start, end).counts,
        "trend": [(row["month"], row["rates"].counts["reported"]) for row in stats.trend(path, start, end)],
        "categories": [(row["name"], row["reported"], row["resolved"]) for row in stats.by_category(path, start, end)],
    }


def build_history(world, catalogue):
    """Cases in two grids of one community, one in a village grid, one filed on the community
    itself and one without a category, moved through the workflow."""
    cases = [file_case(world, catalogue) for _ in range(3)]
    cases.append(file_case(world, catalogue, node=world.other_grid, actor=world.secretary, category="dispute"))
    cases.append(file_case(world, catalogue, node=world.village_grid, actor=world.admin))
    cases.append(file_case(world, catalogue, node=world.community, actor=world.secretary))
    cases.append(file_case(world, catalogue, category=None))
    walk(world, cases[0], to_close=True)
    walk(world, cases[1], to_close=False)
    services.case_act(actor=world.secretary, case=cases[2], action=Action.REJECT, reason="重复反映")
    return cases


def assert_coarse_matches_fine():
    """Every area row equals the fine rows under its node; every total row its area rows."""
    for area in CaseStatArea.objects.all():
        path_low, path_high = area.path, area.path + "9" * (40 - len(area.path))
        fine = CaseStat.objects.filter(month=area.month, org_path__range=(path_low, path_high))
        fine = fine.filter(category_id=area.category_key or None) if area.category_key else \
            fine.filter(category__isnull=True)
        sums = fine.aggregate(**{c: Sum(c) for c in COUNTERS})
        assert {c: getattr(area, c) for c in COUNTERS} == {c: sums[c] or 0 for c in COUNTERS}, area
    for total in CaseStatAreaTotal.objects.all():
        sums = CaseStatArea.objects.filter(node_id=total.node_id, month=total.month).aggregate(
            **{c: Sum(c) for c in COUNTERS})
        assert {c: getattr(total, c) for c in COUNTERS} == {c: sums[c] or 0 for c in COUNTERS}, total
    assert CaseStatAreaTotal.objects.exists()


def test_bump_appends_a_delta_and_readers_are_exact_before_and_after_the_fold(world, catalogue):
    build_history(world, catalogue)
    assert CaseStat.objects.count() == 0 and CaseStatDelta.objects.count() > 7  # nothing folded yet
    paths = [world.subdistrict.path, world.community.path, world.grid.path, world.other_grid.path,
             world.village.path, None]
    before = {path: figures(path) for path in paths}
    sub = before[world.subdistrict.path]["totals"]
    assert (sub["reported"], sub["accepted"], sub["rejected"], sub["closed"], sub["satisfied"]) == (7, 2, 1, 1, 1)
    assert before[world.grid.path]["totals"]["reported"] == 4  # three garbage cases and the uncategorised one
    assert before[world.community.path]["totals"]["reported"] == 6  # its grids and its own case
    assert before[world.village.path]["totals"]["reported"] == 1
    assert ("未分类", 1, 0) in before[world.subdistrict.path]["categories"]

    pending = CaseStatDelta.objects.count()
    assert rollups.fold() == pending
    assert CaseStatDelta.objects.count() == 0
    assert {path: figures(path) for path in paths} == before
    assert_coarse_matches_fine()

    # More movement after the fold: pending deltas add to folded rows, exactly once.
    case = file_case(world, catalogue)
    walk(world, case, to_close=True)
    after = figures(world.subdistrict.path)["totals"]
    assert after["reported"] == 8 and after["closed"] == 2
    assert rollups.fold() > 0
    assert figures(world.subdistrict.path)["totals"] == after
    assert rollups.fold() == 0  # nothing left, nothing counted twice
    assert figures(world.subdistrict.path)["totals"] == after
    assert_coarse_matches_fine()


def test_scope_picks_the_rollup_table(world, catalogue):
    build_history(world, catalogue)
    rollups.fold()
    start, end = period()
    with CaptureQueriesContext(connection) as wide:
        stats.totals(world.subdistrict.path, start, end)
    sql = " ".join(q["sql"] for q in wide.captured_queries)
    assert "cases_casestatareatotal" in sql and "cases_casestat " not in sql.replace('"', " ")
    with CaptureQueriesContext(connection) as narrow:
        stats.totals(world.grid.path, start, end)
    sql = " ".join(q["sql"] for q in narrow.captured_queries)
    assert "cases_casestat " in sql.replace('"', " ") and "cases_casestatarea" not in sql
    with CaptureQueriesContext(connection) as categories:
        stats.by_category(world.community.path, start, end)
    assert "cases_casestatarea " in " ".join(q["sql"] for q in categories.captured_queries).replace('"', " ")

    # Rankings go one level down: communities and villages of a sub-district, grids of a community.
    units = stats.ranking(world.subdistrict.path, start, end, by="child")
    assert {row["unit_name"] for row in units} == {"东门社区", "横塘村"}
    assert sum(row["rates"].counts["reported"] for row in units) == 7
    grids = stats.ranking(world.community.path, start, end, by="child")
    assert {row["unit_id"] for row in grids} == {world.grid.pk, world.other_grid.pk, world.community.pk}
    assert [row["position"] for row in grids] == [1, 2, 3]


def test_dashboard_ranks_the_children_of_the_scope(client, world, catalogue):
    build_history(world, catalogue)  # unfolded: the page must still count everything
    client.force_login(world.leader)
    page = client.get(f"/cases/dashboard/?node={world.subdistrict.pk}")
    assert page.status_code == 200
    body = page.content.decode()
    assert "社区（村）排名" in body and "东门社区" in body and "横塘村" in body
    client.force_login(world.other_worker)  # another grid's worker: out of scope = 404
    assert client.get(f"/cases/dashboard/?node={world.grid.pk}").status_code == 404


def test_the_fold_is_a_scheduled_job():
    from jiedao.core.scheduler import JOBS

    job = next(job for job in JOBS if job.name == "rollup_fold")
    now = timezone.now()
    assert job.path == "jiedao.cases.statistics.rollups.fold_job" and job.next_after(now) - now <= timedelta(seconds=10)


@pytest.mark.skipif(not ON_POSTGRES, reason="concurrent transactions need PostgreSQL (set JIEDAO_DATABASE_URL)")
@pytest.mark.django_db(transaction=True)
def test_concurrent_bumps_and_folds_lose_nothing_and_double_nothing(world, catalogue):
    """Eight threads bump the same grid and category (each bump its own transaction, on its own
    connection) while two threads fold continuously: after a last fold the rollups hold exactly
    every bump, and the readers agreed with that total at every moment in between."""
    case = file_case(world, catalogue)
    rollups.fold()
    month = timezone.localdate().replace(day=1)
    writers, bumps_each = 8, 40
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: list[int] = []
    start, end = period()

    def writer():
        from django.db import connection as own
        from django.db import transaction

        try:
            for _ in range(bumps_each):
                with transaction.atomic():
                    rollups.bump(case, month, reported=1, closed=1)
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.close()

    def folder():
        from django.db import connection as own

        try:
            while not stop.is_set():
                rollups.fold()
                seen.append(stats.totals(world.subdistrict.path, start, end).counts["reported"])
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.close()

    folders = [threading.Thread(target=folder) for _ in range(2)]
    threads = [threading.Thread(target=writer) for _ in range(writers)]
    for thread in folders + threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    stop.set()
    for thread in folders:
        thread.join(timeout=60)
    assert not errors, errors
    rollups.fold()
    expected = 1 + writers * bumps_each
    assert CaseStatDelta.objects.count() == 0
    assert CaseStat.objects.filter(node=world.grid).aggregate(n=Sum("reported"))["n"] == expected
    assert CaseStatAreaTotal.objects.get(node=world.subdistrict).reported == expected
    assert CaseStatAreaTotal.objects.get(node=world.subdistrict).closed == writers * bumps_each
    assert seen and all(1 <= n <= expected for n in seen)  # a reading never exceeds what was bumped
    assert_coarse_matches_fine()


@pytest.mark.django_db(transaction=True)
def test_seed_tiny_with_history_loads_cases_and_consistent_rollups():
    if not Category.objects.exists():  # a transactional test before this one flushed the catalogue
        Category.objects.create(code="exposed_garbage", name="暴露垃圾", default_tier=Tier.PUBLIC)
        Category.objects.create(code="neighbour_dispute", name="邻里纠纷", default_tier=Tier.COMMUNITY)
        Category.objects.create(code="social_security", name="社保咨询", default_tier=Tier.PRIVATE)
    call_command("seed", scale="tiny", cases=1500, stdout=open("/dev/null", "w"))  # noqa: SIM115
    cases = Case.objects.all()
    assert cases.count() == 1500
    assert CaseTransition.objects.count() == 0  # the bulk history has no per-case transition rows
    assert AuditEvent.objects.filter(action="cases.history.seed").count() == 1
    assert len(set(cases.values_list("state", flat=True))) >= 4
    assert cases.filter(state=State.CLOSED).count() > 1000
    root = OrgNode.objects.get(path="0001")
    start, end = period()
    totals = stats.totals(root.path, start, end).counts
    assert totals["reported"] == 1500
    assert totals["closed"] == cases.filter(state=State.CLOSED).count()
    assert totals["rejected"] == cases.filter(state=State.REJECTED).count()
    assert totals["followed_up"] == cases.filter(rated_at__isnull=False).count() > 1000
    # A bad answer sends the case back: an unsatisfied latest answer waits for a new resolution.
    assert totals["unsatisfied"] == cases.filter(rating=Rating.UNSATISFIED).count()
    assert not cases.filter(rating=Rating.UNSATISFIED, state=State.CLOSED).exists()
    assert totals["solved"] == cases.filter(solved=True).count() > totals["followed_up"] * 0.9
    assert totals["dispatched"] == cases.filter(dispatched_at__isnull=False).count()
    assert totals["resolved"] == cases.filter(resolved_at__isnull=False).count()
    assert totals["reworked"] == cases.filter(rework_count__gt=0).count() > 0
    assert totals["reopened"] == cases.filter(reopen_count__gt=0).count() > 0
    assert totals["deferred"] == cases.filter(deferred_at__isnull=False).count() > 0
    assert sum(totals[f"resolved_level{n}"] for n in range(1, 5)) == totals["resolved"]
    assert totals["accepted"] == cases.filter(accepted_at__isnull=False).count()
    # Sane figures: the bulk history fills every field the figures need (docs/figures.md).
    rates = stats.rates_from(totals)
    assert 0.9 < rates.satisfaction_rate <= 1 and 0.9 < rates.response_rate < 1 and 0.9 < rates.resolution_rate <= 1
    assert 0.8 < rates.due_resolved_rate < 1 and 0.7 < rates.on_time_rate < rates.due_resolved_rate
    assert 0.6 < rates.ack_rate < 1 and rates.return_rate == 0 and 0 < rates.reopen_rate < 0.1
    # rebuild() counts exactly what each case's figures say.
    expected = {name: 0 for name in COUNTERS}
    for case in cases:
        for month_figures in case_figures(case).values():
            for name, value in month_figures.items():
                expected[name] += value
    assert totals == expected
    assert CaseStat.objects.aggregate(n=Sum("reported"))["n"] == 1500
    assert_coarse_matches_fine()
    # The case table's indexes are back after the load.
    with connection.cursor() as cursor:
        names = {c["columns"] and name for name, c in
                 connection.introspection.get_constraints(cursor, "cases_case").items() if c["index"]}
    assert "case_sla_deadline_idx" in names and "case_subdistrict_created_idx" in names
