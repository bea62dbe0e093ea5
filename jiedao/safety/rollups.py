"""The rollups behind the safety figures (底数 aside): hazards by node and month found, and the
businesses inspected by node and month (排摸), kept current on write.

A hazard contributes to one row of HazardMonth — its node and the local month it was found —
what docs/figures.md § 安全生产 counts: 1 隐患 unless cancelled, 1 重大隐患 if major, 1 已销号 if
closed, 1 按期整改 if closed with its standing rectification within the deadline. Every write of a
hazard goes through jiedao.safety.services (the inspection that finds it, the one guarded
transition function), which calls `hazard_changed(before, after)`: the row moves by the
difference, so a hazard counts once however often it is reworked or extended. An inspection adds
its (business, node, month) to VisitMonth if not there yet.

`rebuild()` recounts both tables from the raw rows (the demo's bulk seed calls it; the property
test compares the two ways). 逾期未整改 is not rolled up: it moves with the clock, not with a
write, and is read from the open hazards (the (state, deadline) index).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import TruncMonth
from django.utils import timezone

from jiedao.safety.models import HazardMonth, HazardState, Severity, VisitMonth

COUNTERS = ("found", "major", "closed", "on_time")


def month_of(moment: Any) -> date:
    """The first day of the local month of a datetime (or of a date)."""
    day = timezone.localtime(moment).date() if hasattr(moment, "tzinfo") and hasattr(moment, "hour") else moment
    return day.replace(day=1)


def contribution(hazard: Any) -> tuple[tuple[int, date], dict[str, int]] | None:
    """What one hazard adds to HazardMonth: its key (node id, month found) and counters."""
    if hazard is None or hazard.state == HazardState.CANCELLED:
        return None
    closed = hazard.state == HazardState.CLOSED
    on_time = closed and hazard.rectified_at is not None and hazard.rectified_at <= hazard.deadline_at
    return (hazard.node_id, month_of(hazard.found_at)), {
        "found": 1, "major": int(hazard.severity == Severity.MAJOR), "closed": int(closed), "on_time": int(on_time)}


def _add(key: tuple[int, date], counters: dict[str, int]) -> None:
    if not any(counters.values()):
        return
    table = connection.ops.quote_name(HazardMonth._meta.db_table)
    columns = ", ".join(COUNTERS)
    updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in COUNTERS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (node_id, month, {columns}) VALUES (%s, %s, %s, %s, %s, %s) "
            f"ON CONFLICT (node_id, month) DO UPDATE SET {updates}",
            [key[0], key[1], *(counters[c] for c in COUNTERS)])


def hazard_changed(before: Any, after: Any) -> None:
    """Move the rollup by what changed between the hazard's two versions (either may be None:
    created, or gone). Called inside the write's transaction."""
    old, new = contribution(before), contribution(after)
    if old is not None and new is not None and old[0] == new[0]:
        _add(new[0], {c: new[1][c] - old[1][c] for c in COUNTERS})
        return
    if old is not None:
        _add(old[0], {c: -v for c, v in old[1].items()})
    if new is not None:
        _add(new[0], new[1])


def hazards_created(hazards: Iterable[Any]) -> None:
    merged: dict[tuple[int, date], dict[str, int]] = {}
    for hazard in hazards:
        part = contribution(hazard)
        if part is not None:
            row = merged.setdefault(part[0], dict.fromkeys(COUNTERS, 0))
            for c, v in part[1].items():
                row[c] += v
    for key, counters in merged.items():
        _add(key, counters)


def inspections_recorded(inspections: Iterable[Any]) -> None:
    rows = {(i.business_id, i.node_id, i.inspected_on.replace(day=1)) for i in inspections}
    VisitMonth.objects.bulk_create([VisitMonth(business_id=b, node_id=n, month=m) for b, n, m in rows],
                                   ignore_conflicts=True)


@transaction.atomic
def rebuild(models: Any = None) -> tuple[int, int]:
    """Recount both rollups from the hazards and inspections; returns their row counts. `models`
    (an apps registry) lets a migration pass its historical models."""
    from django.apps import apps as default_apps

    registry = models or default_apps
    hazard_model = registry.get_model("safety", "Hazard")
    inspection_model = registry.get_model("safety", "Inspection")
    hazard_month = registry.get_model("safety", "HazardMonth")
    visit_month = registry.get_model("safety", "VisitMonth")
    hazard_month.objects.all().delete()
    visit_month.objects.all().delete()
    tz = timezone.get_current_timezone()
    grouped = (hazard_model.objects.exclude(state="cancelled")
               .annotate(m=TruncMonth("found_at", tzinfo=tz)).values("node_id", "m")
               .annotate(found=Count("pk"), major=Count("pk", filter=Q(severity="major")),
                         closed=Count("pk", filter=Q(state="closed")),
                         on_time=Count("pk", filter=Q(state="closed", rectified_at__lte=F("deadline_at"))))
               .order_by())
    hazard_month.objects.bulk_create([
        hazard_month(node_id=row["node_id"], month=_as_date(row["m"]), found=row["found"], major=row["major"],
                     closed=row["closed"], on_time=row["on_time"]) for row in grouped], batch_size=1000)
    visits = (inspection_model.objects.annotate(m=TruncMonth("inspected_on")).values("business_id", "node_id", "m")
              .distinct().order_by())
    visit_month.objects.bulk_create([
        visit_month(business_id=row["business_id"], node_id=row["node_id"], month=_as_date(row["m"]))
        for row in visits], batch_size=2000)
    return hazard_month.objects.count(), visit_month.objects.count()


def _as_date(value: Any) -> date:
    if hasattr(value, "hour"):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).date().replace(day=1)
    return value.replace(day=1)
