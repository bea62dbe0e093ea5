"""Reads of the 联席会议: meetings (scoped by VIEW_CASES at the sub-district, plus the meetings a
department handler's department sits on — JointMeeting.scope_extra_q), their agendas, the cases
waiting for a meeting, and a case's meeting decisions for the case page."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from jiedao.cases.models import Case, CaseTransition, JointMeeting, JointMeetingItem, Level, State
from jiedao.cases.workflow import Action
from jiedao.core import scope
from jiedao.core.permissions import Perm
from jiedao.org.models import Department, NodeKind, OrgNode

_ITEM_RELATED = ("case__category", "case__community", "case__grid", "case__handling_department", "lead_department")


# --- who --------------------------------------------------------------------------------------------


def can_hold(user: Any, meeting_or_subdistrict: JointMeeting | OrgNode) -> bool:
    """Whether the user prepares, holds and decides the meetings of this sub-district
    (街道领导 and 系统管理员 there: Perm.JOINT_MEETINGS)."""
    node = meeting_or_subdistrict.subdistrict if isinstance(meeting_or_subdistrict, JointMeeting) \
        else meeting_or_subdistrict
    return scope.path_allows(user, Perm.JOINT_MEETINGS, node.path)


def host_subdistricts(user: Any) -> QuerySet[OrgNode]:
    """The active sub-districts whose meetings the user may prepare."""
    qs = OrgNode.objects.filter(kind=NodeKind.SUBDISTRICT, is_active=True)
    return scope.restrict(qs, user, Perm.JOINT_MEETINGS).order_by("path")


# --- meetings ---------------------------------------------------------------------------------------


def meetings_visible(user: Any) -> QuerySet[JointMeeting]:
    return scope.restrict(JointMeeting.objects.all(), user, Perm.VIEW_CASES)


def meeting_list(user: Any, *, status: str | None = None, subdistrict: OrgNode | None = None) -> QuerySet[JointMeeting]:
    """The meetings the user sees, newest first, each with its item and decision counts."""
    qs = meetings_visible(user).select_related("subdistrict")
    if status:
        qs = qs.filter(status=status)
    if subdistrict is not None:
        qs = qs.filter(subdistrict=subdistrict)
    return qs.annotate(
        item_count=Count("items", distinct=True),
        decided_count=Count("items", filter=Q(items__decided_at__isnull=False), distinct=True),
    ).order_by("-id")


def meeting_get(user: Any, pk: Any) -> JointMeeting:
    """One meeting the user sees (Http404 exactly like a missing one otherwise)."""
    return scope.get_scoped(JointMeeting.objects.select_related("subdistrict"), user, Perm.VIEW_CASES, pk=pk)


def meeting_members(meeting: JointMeeting) -> list[Department]:
    return list(meeting.members.order_by("sort_order", "id"))


def meeting_items(meeting: JointMeeting) -> list[JointMeetingItem]:
    """The agenda in order, each item with its case, lead and co-units, and `escalation`: the
    step that sent the case to the meeting (the latest 上报, with its reason)."""
    items = list(
        meeting.items.select_related(*_ITEM_RELATED)
        .prefetch_related(Prefetch("co_departments", queryset=Department.objects.order_by("sort_order", "id")))
        .order_by("sort_order", "id")
    )
    escalations = latest_escalations([item.case_id for item in items])
    for item in items:
        item.escalation = escalations.get(item.case_id)
    return items


def meeting_item_get(meeting: JointMeeting, pk: Any) -> JointMeetingItem:
    """An item of this meeting (the meeting already fetched through the scope); Http404 otherwise."""
    item = meeting.items.select_related("case", "meeting__subdistrict").filter(pk=pk).first()
    if item is None:
        raise Http404(_("未找到该对象。"))
    return item


def latest_escalations(case_ids: list[int]) -> dict[int, CaseTransition]:
    """case id → its latest 上报 (escalate) step."""
    found: dict[int, CaseTransition] = {}
    steps = CaseTransition.objects.filter(case_id__in=case_ids, action=Action.ESCALATE).order_by("case_id", "-seq")
    for step in steps.select_related("actor"):
        found.setdefault(step.case_id, step)
    return found


# --- cases waiting for a meeting --------------------------------------------------------------------


def awaiting_cases(subdistrict_id: int, *, meeting: JointMeeting | None = None) -> QuerySet[Case]:
    """The cases of a sub-district that wait for the joint meeting: escalated to level 3, accepted
    (no unit handles them), not merged, and not already on the undecided agenda of a meeting in
    preparation (nor on `meeting`'s agenda at all). A case the meeting decided that the lead unit
    returned is waiting again."""
    on_agenda = JointMeetingItem.objects.filter(decided_at__isnull=True, meeting__status=JointMeeting.Status.DRAFT)
    qs = (
        Case.objects.filter(subdistrict_id=subdistrict_id, level=Level.JOINT_MEETING, state=State.ACCEPTED,
                            merged_into__isnull=True)
        .exclude(pk__in=on_agenda.values("case_id"))
    )
    if meeting is not None:
        qs = qs.exclude(pk__in=meeting.items.values("case_id"))
    return qs.order_by("id")


def pending_cases(user: Any, subdistrict: OrgNode, *, meeting: JointMeeting | None = None) -> QuerySet[Case]:
    """`awaiting_cases` of a sub-district, as far as the user sees them."""
    qs = scope.restrict(awaiting_cases(subdistrict.pk, meeting=meeting), user, Perm.VIEW_CASES)
    return qs.select_related("category", "community", "grid")


def waiting_counts(user: Any, subdistrict: OrgNode) -> dict[str, int]:
    """How many of the sub-district's cases (as far as the user sees them) wait for the joint
    meeting's decision (level 3, accepted), and how many of those are on no agenda yet."""
    everything = Case.objects.filter(subdistrict_id=subdistrict.pk, level=Level.JOINT_MEETING,
                                     state=State.ACCEPTED, merged_into__isnull=True)
    return {"waiting": scope.restrict(everything, user, Perm.VIEW_CASES).count(),
            "unscheduled": pending_cases(user, subdistrict).count()}


def with_escalations(cases: list[Case]) -> list[Case]:
    escalations = latest_escalations([c.pk for c in cases])
    for case in cases:
        case.escalation = escalations.get(case.pk)
    return cases


# --- a case's meetings (the case page) --------------------------------------------------------------


def case_joint_items(case: Case) -> list[JointMeetingItem]:
    """The joint meeting items of a case, latest meeting first, with lead and co-units."""
    return list(
        JointMeetingItem.objects.filter(case=case)
        .select_related("meeting", "lead_department")
        .prefetch_related(Prefetch("co_departments", queryset=Department.objects.order_by("sort_order", "id")))
        .order_by("-meeting_id")
    )
