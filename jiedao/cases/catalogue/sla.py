"""Deadlines (办理时限) and the deadline watch.

`deadline_for` turns a category's time limit into a deadline in the sub-district's office hours
(its 办件规则, jiedao.cases.policy) — the rules are in jiedao.core.workdays and in
docs/user-guide.md「办理时限怎么算」. `sla_scan` marks cases near or past their deadline and
notifies the people responsible; the scheduler runs it every few minutes (jiedao.core.scheduler).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.cases.models import Case, CasePolicy, Category, LimitUnit, Notification, State, Urgency
from jiedao.cases.policy import policy_for
from jiedao.core import workdays
from jiedao.core.permissions import Role
from jiedao.org.models import RoleAssignment

RUNNING = (State.DISPATCHED, State.ACKNOWLEDGED, State.IN_PROGRESS)
# "即将到期": the deadline falls within the next 4 office hours of the case's sub-district (with the
# default hours a deadline at 17:30 is near from 12:00 that day — the lunch break does not count —
# and one at 09:00 from 14:00 the working day before).
NEAR_OFFICE_HOURS = 4


def office_hours(subdistrict_id: int | None) -> workdays.Spans:
    """The sub-district's office hours (its 办件规则, else the default) as core.workdays spans."""
    policy = policy_for(subdistrict_id)
    return (policy.morning_start, policy.morning_end), (policy.afternoon_start, policy.afternoon_end)


def near_threshold(subdistrict_id: int | None, now: datetime | None = None) -> datetime:
    """Deadlines up to this moment are "near": NEAR_OFFICE_HOURS office hours from `now`."""
    now = now or timezone.now()
    return workdays.add_working_hours(now, NEAR_OFFICE_HOURS, spans=office_hours(subdistrict_id)).at


def _near_q(now: datetime) -> Q:
    """Running cases whose deadline is near at `now`, each in its own sub-district's office hours:
    one threshold per sub-district with a 办件规则 of its own, one for all the others."""
    own = list(CasePolicy.objects.filter(subdistrict__isnull=False).values_list("subdistrict_id", flat=True))
    q = Q(deadline_at__lte=near_threshold(None, now)) & ~Q(subdistrict_id__in=own)
    for subdistrict_id in own:
        q |= Q(subdistrict_id=subdistrict_id, deadline_at__lte=near_threshold(subdistrict_id, now))
    return q


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
    """One pass: set sla_status on running cases (and clear it where a new deadline lifted it),
    clear it on finished ones, notify once per kind."""
    now = now or timezone.now()
    running = Case.objects.filter(state__in=RUNNING, deadline_at__isnull=False)
    near = _near_q(now)
    newly_overdue = list(running.filter(deadline_at__lt=now).exclude(sla_status="overdue"))
    newly_near = list(running.filter(near, deadline_at__gte=now).exclude(sla_status="near"))
    Case.objects.filter(pk__in=[c.pk for c in newly_overdue]).update(sla_status="overdue")
    Case.objects.filter(pk__in=[c.pk for c in newly_near]).update(sla_status="near")
    cleared = Case.objects.exclude(state__in=RUNNING).exclude(sla_status="").update(sla_status="")
    cleared += running.exclude(sla_status="").exclude(near).exclude(deadline_at__lt=now).update(sla_status="")
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


def sla_status_for(case: Case, now: datetime | None = None) -> str:
    """What sla_scan would set on this case now: "overdue", "near" or ""."""
    if case.state not in RUNNING or case.deadline_at is None:
        return ""
    now = now or timezone.now()
    if case.deadline_at < now:
        return "overdue"
    return "near" if case.deadline_at <= near_threshold(case.subdistrict_id, now) else ""


def overdue_cases(user: Any):
    """The user's visible overdue and near-deadline cases, most urgent first."""
    from jiedao.core import scope
    from jiedao.core.permissions import Perm

    return (
        scope.restrict(Case.objects.filter(Q(sla_status="overdue") | Q(sla_status="near")), user, Perm.VIEW_CASES)
        .select_related("category", "handling_department")
        .order_by("deadline_at")
    )


def overdue_top(user: Any, path: str, limit: int, *, only: tuple[str, ...] = ()) -> list[Case]:
    """The `limit` most urgent overdue (then near-deadline) cases under `path` visible to the
    user: one ordered index scan per status (sla_status, deadline_at), so a city-wide list stops
    after `limit` rows instead of sorting every overdue case. `only`: the fields to load (all
    when empty; with the category and department, say "category__name")."""
    from jiedao.core import scope
    from jiedao.core.permissions import Perm

    low, high = scope.subtree_range(path)
    found: list[Case] = []
    for status in ("overdue", "near"):
        qs = scope.restrict(Case.objects.filter(sla_status=status, org_path__range=(low, high)), user, Perm.VIEW_CASES)
        qs = qs.select_related("category", "handling_department").order_by("deadline_at")
        found += list((qs.only(*only) if only else qs)[:limit])
        if len(found) >= limit:
            break
    return found[:limit]


def deadline_for(category: Category | None, start: datetime, urgency: str = Urgency.NORMAL, *,
                 subdistrict_id: int | None = None) -> workdays.Deadline:
    """The deadline of a case dispatched at `start`: the category's time limit (none: 5 working
    days; urgent: half, at least 0.5) in working days or working hours of the sub-district's
    office hours, or in clock hours; with whether it is an estimate (a year not yet known)."""
    amount = Decimal(category.time_limit) if category else Decimal(5)
    unit = category.time_limit_unit if category else LimitUnit.WORKING_DAYS
    if urgency == Urgency.URGENT:
        amount = max(amount / 2, Decimal("0.5"))
    if unit == LimitUnit.HOURS:
        return workdays.Deadline(start + timedelta(hours=float(amount)), False)
    spans = office_hours(subdistrict_id)
    if unit == LimitUnit.WORKING_HOURS:
        return workdays.add_working_hours(start, amount, spans=spans)
    return workdays.add_working_days(start, amount, spans=spans)
