"""Deadline watch (办理时限): mark cases near or past their deadline and notify the people
responsible. Run by the scheduler every few minutes (jiedao.core.scheduler)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.cases.models import Case, Category, LimitUnit, Notification, State, Urgency
from jiedao.core import workdays
from jiedao.core.permissions import Role
from jiedao.org.models import RoleAssignment

RUNNING = (State.DISPATCHED, State.ACKNOWLEDGED, State.IN_PROGRESS)
NEAR_WINDOW = timedelta(hours=4)


def _recipients(case: Case) -> set[int]:
    """Who hears about a late case: the handling department's handlers, else the community's
    secretary and staff; and the grid's workers in both cases."""
    users: set[int] = set()
    if case.handling_department_id:
        users |= set(RoleAssignment.objects.filter(role=Role.DEPARTMENT_HANDLER,
                                                   department_id=case.handling_department_id)
                     .values_list("user_id", flat=True))
    if case.community_id:
        users |= set(RoleAssignment.objects.filter(
            node_id=case.community_id, role__in=(Role.COMMUNITY_SECRETARY, Role.COMMUNITY_STAFF)
        ).values_list("user_id", flat=True))
    if case.grid_id:
        users |= set(RoleAssignment.objects.filter(node_id=case.grid_id, role=Role.GRID_WORKER)
                     .values_list("user_id", flat=True))
    return users


@transaction.atomic
def sla_scan(now: datetime | None = None) -> dict[str, Any]:
    """One pass: set sla_status on running cases, clear it on finished ones, notify once per kind."""
    now = now or timezone.now()
    running = Case.objects.filter(state__in=RUNNING, deadline_at__isnull=False)
    newly_overdue = list(running.filter(deadline_at__lt=now).exclude(sla_status="overdue"))
    newly_near = list(running.filter(deadline_at__gte=now, deadline_at__lt=now + NEAR_WINDOW).exclude(sla_status="near"))
    Case.objects.filter(pk__in=[c.pk for c in newly_overdue]).update(sla_status="overdue")
    Case.objects.filter(pk__in=[c.pk for c in newly_near]).update(sla_status="near")
    cleared = Case.objects.exclude(state__in=RUNNING).exclude(sla_status="").update(sla_status="")
    notes = []
    for kind, cases, text in (("overdue", newly_overdue, _("已超过办理期限")), ("near", newly_near, _("即将到期"))):
        for case in cases:
            deadline = timezone.localtime(case.deadline_at)
            message = _("事项 %(ticket)s「%(title)s」%(status)s（期限 %(deadline)s）。") % {
                "ticket": case.ticket, "title": case.title[:30], "status": text, "deadline": f"{deadline:%m-%d %H:%M}",
            }
            notes += [Notification(user_id=u, case=case, kind=kind, message=message) for u in _recipients(case)]
    Notification.objects.bulk_create(notes, ignore_conflicts=True)
    return {"overdue": len(newly_overdue), "near": len(newly_near), "cleared": cleared, "notified": len(notes)}


def overdue_cases(user: Any):
    """The user's visible overdue and near-deadline cases, most urgent first."""
    from jiedao.core import scope
    from jiedao.core.permissions import Perm

    return (
        scope.restrict(Case.objects.filter(Q(sla_status="overdue") | Q(sla_status="near")), user, Perm.VIEW_CASES)
        .select_related("category", "handling_department")
        .order_by("deadline_at")
    )


def overdue_top(user: Any, path: str, limit: int) -> list[Case]:
    """The `limit` most urgent overdue (then near-deadline) cases under `path` visible to the
    user: one ordered index scan per status (sla_status, deadline_at), so a city-wide list stops
    after `limit` rows instead of sorting every overdue case."""
    from jiedao.core import scope
    from jiedao.core.permissions import Perm

    low, high = scope.subtree_range(path)
    found: list[Case] = []
    for status in ("overdue", "near"):
        qs = scope.restrict(Case.objects.filter(sla_status=status, org_path__range=(low, high)), user, Perm.VIEW_CASES)
        found += list(qs.select_related("category", "handling_department").order_by("deadline_at")[:limit])
        if len(found) >= limit:
            break
    return found[:limit]


def deadline_for(category: Category | None, start: datetime, urgency: str = Urgency.NORMAL) -> datetime:
    """Start + the category's time limit in Chinese working days/hours (urgent cases: half)."""
    amount = Decimal(category.time_limit) if category else Decimal(5)
    unit = category.time_limit_unit if category else LimitUnit.WORKING_DAYS
    if urgency == Urgency.URGENT:
        amount = max(amount / 2, Decimal("0.5"))
    if unit == LimitUnit.HOURS:
        return start + timedelta(hours=float(amount))
    if unit == LimitUnit.WORKING_HOURS:
        return workdays.add_working_hours(start, float(amount), strict=False)
    whole = int(amount)
    moment = workdays.add_working_days(start, whole, strict=False)
    if amount != whole:
        moment = workdays.add_working_hours(moment, float(amount - whole) * 7, strict=False)
    return moment
