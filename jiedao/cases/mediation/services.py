"""Writes of the 联席会议 (level 3 of 三级调处, seed 004: 街道信访联席会议协调化解).

A case reaches the meeting when it is escalated (上报) to level 3: it then waits, accepted, with no
unit handling it. The sub-district's leaders (街道领导) and administrators prepare a meeting whose
members are the sub-district's departments and whose agenda is the waiting cases; the meeting
decides each case — the decision, the lead department, the co-units, the date — and the decision
dispatches the case to the lead department through the one guarded transition function
(`jiedao.cases.services.case_act`), with the meeting's date as its deadline, in the same
transaction. The case keeps level 3, so its resolution counts as 联席会议化解.

Every function checks the actor's Perm.JOINT_MEETINGS at the sub-district (404 where the actor
does not see the sub-district, 403 where they see it but may not), runs in a transaction and
writes an audit event."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from jiedao.cases.mediation import selectors
from jiedao.cases.models import Case, JointMeeting, JointMeetingItem, Level, State, Tier
from jiedao.cases.policy import policy_for
from jiedao.cases.services import case_act
from jiedao.cases.workflow import Action
from jiedao.core import audit, scope
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.core.validators import clean_text
from jiedao.org.models import Department, NodeKind, OrgNode

# The meeting's default name (stored data, in the language of the records, like the seeds').
DEFAULT_TITLE = "{year}年{month}月信访联席会议"
ATTENDEES = "参会人员："  # the first line of the minutes, when attendees are named


def default_title(day: date) -> str:
    return DEFAULT_TITLE.format(year=day.year, month=day.month)


def require_host(actor: Any, subdistrict: OrgNode) -> None:
    """404 where the actor does not see the sub-district, 403 where they see it but do not hold
    its meetings (Perm.JOINT_MEETINGS: 街道领导 and 系统管理员)."""
    scope.require(actor, Perm.JOINT_MEETINGS, subdistrict.path)


def _require_draft(meeting: JointMeeting, field: str) -> None:
    if meeting.status != JointMeeting.Status.DRAFT:
        raise DomainError(_("会议已召开，议程和成员不能再变更。"), field=field)


def _members(subdistrict: OrgNode, members: Iterable[Department] | None) -> list[Department]:
    """The member departments: those given (each active and of the sub-district), or by default
    every active department of the sub-district; at least one."""
    if members is None:
        chosen = list(Department.objects.filter(subdistrict=subdistrict, is_active=True).order_by("sort_order", "id"))
    else:
        chosen = list({d.pk: d for d in members}.values())
    if not chosen:
        raise DomainError(_("请至少选择一个成员单位。"), field="members")
    for department in chosen:
        if department.subdistrict_id != subdistrict.pk or not department.is_active:
            raise DomainError(_("成员单位“%(name)s”不属于本街道或已停用。") % {"name": department.name}, field="members")
    return chosen


def _texts(*, title: Any, location: Any, host: Any) -> dict[str, str]:
    return {
        "title": clean_text(title, field="title", label=gettext_lazy("会议名称"), max_length=100, required=True),
        "location": clean_text(location, field="location", label=gettext_lazy("地点"), max_length=100),
        "host": clean_text(host, field="host", label=gettext_lazy("主持人"), max_length=64),
    }


def _state(meeting: JointMeeting) -> dict[str, Any]:
    return {**audit.snapshot(meeting), "members": sorted(meeting.members.values_list("pk", flat=True))}


def _add_waiting(meeting: JointMeeting) -> list[JointMeetingItem]:
    """Put every case waiting for a meeting of the sub-district on this meeting's agenda."""
    order = max(meeting.items.values_list("sort_order", flat=True), default=0)
    added = []
    for case in selectors.awaiting_cases(meeting.subdistrict_id, meeting=meeting):
        order += 1
        added.append(JointMeetingItem.objects.create(meeting=meeting, case=case, sort_order=order))
    return added


# --- the meeting ------------------------------------------------------------------------------------


@transaction.atomic
def joint_meeting_create(
    *, actor: Any, subdistrict: OrgNode, title: str = "", held_at: datetime | None = None, location: str = "",
    host: str = "", members: Iterable[Department] | None = None,
) -> JointMeeting:
    """Prepare a meeting of the sub-district (筹备中): its name (by default "2026年12月信访联席会议"
    for the month it is held in, or this month), its planned time and place, its members (by
    default every active department of the sub-district), and its agenda: every case of the
    sub-district waiting for the joint meeting."""
    require_host(actor, subdistrict)
    if subdistrict.kind != NodeKind.SUBDISTRICT:
        raise DomainError(_("联席会议由街道召开，请选择街道。"), field="subdistrict")
    day = timezone.localtime(held_at).date() if held_at else timezone.localdate()
    texts = _texts(title=title or default_title(day), location=location, host=host)
    chosen = _members(subdistrict, members)
    meeting = JointMeeting.objects.create(subdistrict=subdistrict, held_at=held_at, **texts)
    meeting.members.set(chosen)
    added = _add_waiting(meeting)
    audit.record(actor=actor, action="cases.jointmeeting.create", obj=meeting,
                 after={**_state(meeting), "items": [item.case_id for item in added]})
    return meeting


@transaction.atomic
def joint_meeting_update(
    *, actor: Any, meeting: JointMeeting, title: str, held_at: datetime | None, location: str = "", host: str = "",
    members: Iterable[Department] | None = None,
) -> JointMeeting:
    """Change a meeting in preparation: name, planned time, place, host and (when given) members.
    A department that already leads or co-operates on one of its decisions stays a member."""
    meeting = JointMeeting.objects.select_for_update().select_related("subdistrict").get(pk=meeting.pk)
    require_host(actor, meeting.subdistrict)
    _require_draft(meeting, "status")
    before = _state(meeting)
    texts = _texts(title=title, location=location, host=host)
    if members is not None:
        chosen = _members(meeting.subdistrict, members)
        keep = {d.pk for d in chosen}
        for item in meeting.items.filter(decided_at__isnull=False).select_related("lead_department"):
            for department in [item.lead_department, *item.co_departments.all()]:
                if department is not None and department.pk not in keep:
                    raise DomainError(
                        _("“%(name)s”已承担本次会议决定的任务，不能移出成员单位。") % {"name": department.name},
                        field="members",
                    )
        meeting.members.set(chosen)
    for name, value in texts.items():
        setattr(meeting, name, value)
    meeting.held_at = held_at
    meeting.save()
    audit.record(actor=actor, action="cases.jointmeeting.update", obj=meeting, before=before, after=_state(meeting))
    return meeting


@transaction.atomic
def joint_meeting_agenda_build(*, actor: Any, meeting: JointMeeting) -> list[JointMeetingItem]:
    """Add to a meeting in preparation every case escalated to it since the agenda was built."""
    meeting = JointMeeting.objects.select_for_update().select_related("subdistrict").get(pk=meeting.pk)
    require_host(actor, meeting.subdistrict)
    _require_draft(meeting, "items")
    added = _add_waiting(meeting)
    if added:
        audit.record(actor=actor, action="cases.jointmeeting.agenda", obj=meeting,
                     after={"added": [item.case_id for item in added]})
    return added


@transaction.atomic
def joint_meeting_item_add(*, actor: Any, meeting: JointMeeting, case: Case) -> JointMeetingItem:
    """Put one case on the agenda by hand: a case of the meeting's sub-district escalated to level
    3 and accepted, not on this agenda yet, nor on another meeting's in preparation."""
    meeting = JointMeeting.objects.select_for_update().select_related("subdistrict").get(pk=meeting.pk)
    require_host(actor, meeting.subdistrict)
    _require_draft(meeting, "case")
    case = Case.objects.get(pk=case.pk)
    if case.subdistrict_id != meeting.subdistrict_id:
        raise DomainError(_("事项 %(ticket)s 不属于本街道。") % {"ticket": case.ticket}, field="case")
    if case.level != Level.JOINT_MEETING or case.state != State.ACCEPTED or case.merged_into_id:
        raise DomainError(
            _("只有上报至联席会议（第三级）、处于“已受理”的事项才能列入议程；事项 %(ticket)s 现为%(level)s、“%(state)s”。")
            % {"ticket": case.ticket, "level": Level(case.level).label, "state": State(case.state).label},
            field="case",
        )
    if meeting.items.filter(case=case).exists():
        raise DomainError(_("事项 %(ticket)s 已在本次会议的议程中。") % {"ticket": case.ticket}, field="case")
    elsewhere = (
        JointMeetingItem.objects.filter(case=case, decided_at__isnull=True, meeting__status=JointMeeting.Status.DRAFT)
        .select_related("meeting").first()
    )
    if elsewhere is not None:
        raise DomainError(
            _("事项 %(ticket)s 已列入“%(title)s”的议程。") % {"ticket": case.ticket, "title": elsewhere.meeting.title},
            field="case",
        )
    order = max(meeting.items.values_list("sort_order", flat=True), default=0) + 1
    item = JointMeetingItem.objects.create(meeting=meeting, case=case, sort_order=order)
    audit.record(actor=actor, action="cases.jointmeeting.item_add", obj=meeting, after={"case": case.pk,
                                                                                       "ticket": case.ticket})
    return item


@transaction.atomic
def joint_meeting_item_remove(*, actor: Any, item: JointMeetingItem) -> None:
    """Take an undecided case off the agenda of a meeting in preparation (it waits for the next)."""
    item = JointMeetingItem.objects.select_for_update().select_related("meeting__subdistrict", "case").get(pk=item.pk)
    meeting = item.meeting
    require_host(actor, meeting.subdistrict)
    _require_draft(meeting, "item")
    if item.decided_at is not None:
        raise DomainError(_("该议题已作出决定，不能移出议程。"), field="item")
    audit.record(actor=actor, action="cases.jointmeeting.item_remove", obj=meeting,
                 after={"case": item.case_id, "ticket": item.case.ticket})
    item.delete()


# --- the decision -----------------------------------------------------------------------------------


def deadline_of(due_date: date, subdistrict_id: int | None) -> datetime:
    """A decision's date as a deadline: the close of office hours that day (办件规则, 17:30 by
    default), local time."""
    closing = policy_for(subdistrict_id).afternoon_end
    return timezone.make_aware(datetime.combine(due_date, closing))


@transaction.atomic
def joint_meeting_decide(
    *, actor: Any, item: JointMeetingItem, decision: str, lead_department: Department | None,
    co_departments: Iterable[Department] = (), due_date: date | None,
) -> JointMeetingItem:
    """The meeting's decision on one case: what is to be done, the lead department (a member of the
    meeting), the co-units (members, not the lead) and the date. The case is dispatched to the lead
    department with that date (at the close of office hours) as its deadline, through case_act, in
    the same transaction: if the dispatch is refused, nothing is decided. One decision per item."""
    item = JointMeetingItem.objects.select_for_update().select_related("meeting__subdistrict").get(pk=item.pk)
    meeting = item.meeting
    require_host(actor, meeting.subdistrict)
    if item.decided_at is not None:
        raise DomainError(_("该议题已作出决定，不能再次决定。"), field="item")
    decision = clean_text(decision, field="decision", label=gettext_lazy("会议决定"), max_length=2000, required=True)
    members = {d.pk: d for d in meeting.members.all()}
    if lead_department is None:
        raise DomainError(_("请选择牵头单位。"), field="lead_department")
    if lead_department.pk not in members:
        raise DomainError(_("牵头单位“%(name)s”不是本次会议的成员单位。") % {"name": lead_department.name},
                          field="lead_department")
    if lead_department.subdistrict_id != meeting.subdistrict_id or not lead_department.is_active:
        raise DomainError(_("牵头单位“%(name)s”不属于本街道或已停用。") % {"name": lead_department.name},
                          field="lead_department")
    co = list({d.pk: d for d in co_departments}.values())
    for department in co:
        if department.pk == lead_department.pk:
            raise DomainError(_("配合单位不能与牵头单位相同（“%(name)s”）。") % {"name": department.name},
                              field="co_departments")
        if department.pk not in members:
            raise DomainError(_("配合单位“%(name)s”不是本次会议的成员单位。") % {"name": department.name},
                              field="co_departments")
        if not department.is_active:
            raise DomainError(_("配合单位“%(name)s”已停用。") % {"name": department.name}, field="co_departments")
    if due_date is None:
        raise DomainError(_("请填写办理时限。"), field="due_date")
    deadline = deadline_of(due_date, meeting.subdistrict_id)
    if due_date < timezone.localdate() or deadline <= timezone.now():
        raise DomainError(
            _("办理时限 %(date)s 已过（当天 %(time)s 截止），请选择以后的日期。")
            % {"date": due_date.isoformat(), "time": f"{timezone.localtime(deadline):%H:%M}"},
            field="due_date",
        )
    case = Case.objects.get(pk=item.case_id)
    if case.level != Level.JOINT_MEETING or case.state != State.ACCEPTED:
        raise DomainError(
            _("事项 %(ticket)s 现为%(level)s、“%(state)s”，不在等待联席会议决定。")
            % {"ticket": case.ticket, "level": Level(case.level).label, "state": State(case.state).label},
            field="case",
        )
    if case.tier != Tier.PUBLIC:
        raise DomainError(
            _("事项 %(ticket)s 分流为“%(tier)s”：由部门牵头办理的须为大事，请社区（村）先改为大事。")
            % {"ticket": case.ticket, "tier": Tier(case.tier).label if case.tier else _("未分流")},
            field="case",
        )
    reason = f"{meeting.title}决定：{decision}"
    # `joint_item` tells the dispatch it carries out a joint meeting's decision (the API's
    # /cases/{id}/actions cannot send it); `deadline` overrides the category's time limit.
    case_act(actor=actor, case=case, action=Action.DISPATCH, reason=reason[:2000], department=lead_department,
             deadline=deadline, joint_item=item)
    item.decision, item.lead_department, item.due_date = decision, lead_department, due_date
    item.decided_at = timezone.now()
    item.save()
    item.co_departments.set(co)
    audit.record(
        actor=actor, action="cases.case.joint_decided", obj=case, reason=decision,
        after={"meeting": meeting.pk, "item": item.pk, "lead_department": lead_department.pk,
               "co_departments": [d.pk for d in co], "due_date": due_date.isoformat(),
               "deadline": deadline.isoformat()},
    )
    return item


# --- holding it -------------------------------------------------------------------------------------


@transaction.atomic
def joint_meeting_hold(
    *, actor: Any, meeting: JointMeeting, held_at: datetime | None, summary: str, attendees: str = "",
    location: str | None = None, host: str | None = None,
) -> JointMeeting:
    """Record that the meeting was held: when (not in the future), where, who hosted, who attended
    and the minutes (会议纪要, required). Items left undecided wait for the next meeting; decisions
    can still be recorded on this one while their cases wait."""
    meeting = JointMeeting.objects.select_for_update().select_related("subdistrict").get(pk=meeting.pk)
    require_host(actor, meeting.subdistrict)
    if meeting.status == JointMeeting.Status.HELD:
        raise DomainError(_("该会议已标记为召开。"), field="status")
    if held_at is None:
        raise DomainError(_("请填写召开时间。"), field="held_at")
    if held_at > timezone.now():
        raise DomainError(_("召开时间不能晚于现在。"), field="held_at")
    before = _state(meeting)
    texts = _texts(title=meeting.title, location=meeting.location if location is None else location,
                   host=meeting.host if host is None else host)
    attendees = clean_text(attendees, field="attendees", label=gettext_lazy("参会人员"), max_length=1000)
    summary = clean_text(summary, field="summary", label=gettext_lazy("会议纪要"), max_length=10000, required=True)
    meeting.location, meeting.host = texts["location"], texts["host"]
    meeting.summary = f"{ATTENDEES}{attendees}\n\n{summary}" if attendees else summary
    meeting.held_at, meeting.status = held_at, JointMeeting.Status.HELD
    meeting.save()
    audit.record(actor=actor, action="cases.jointmeeting.hold", obj=meeting, before=before, after=_state(meeting))
    return meeting
