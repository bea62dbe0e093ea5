"""联席会议 in the demo sub-district, built through the services after the demo cases: a few cases
escalated by their departments to level 3 (or, when no department has open cases, accepted cases
escalated twice by their community), one meeting held today that decided two of them (dispatched
to the lead departments, one already acknowledged), and one meeting in preparation whose agenda
holds the rest. Called from jiedao.cases.demo.demo_step (the seeding registry takes one demo step
per app)."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from typing import Any

from django.utils import timezone

from jiedao.cases.mediation import services as mediation
from jiedao.cases.models import Case, Level, State, Tier
from jiedao.cases.services import case_act
from jiedao.cases.workflow import Action
from jiedao.core.permissions import Role
from jiedao.org.models import Department, OrgNode, RoleAssignment

WANTED = 5  # level-3 cases: two decided at the held meeting, three on the next one's agenda
REASONS = (
    "涉及城管、执法和物业多方，科室条线难以单独化解，提请联席会议协调。",
    "多次整改后问题反复，居民持续信访，需联席会议研究长效办法。",
    "涉及历史遗留问题和多个部门职责交叉，需联席会议明确牵头单位。",
    "当事双方对处理意见分歧较大，需联席会议统筹调处。",
    "所需资金和施工超出本科室权限，提请联席会议协调。",
)
PARTNERS = ("平安办（综治中心）", "综合行政执法队", "城市管理办", "社会事务办")


def _staff(subdistrict: OrgNode) -> tuple[Any, dict[int, Any], dict[int, Any]]:
    """The leader, the handler of each department, the secretary of each community."""
    leader, handlers, secretaries = None, {}, {}
    for a in RoleAssignment.objects.filter(node__subdistrict=subdistrict).select_related("user").order_by("id"):
        if a.role == Role.LEADER and leader is None:
            leader = a.user
        elif a.role == Role.DEPARTMENT_HANDLER and a.department_id:
            handlers.setdefault(a.department_id, a.user)
        elif a.role == Role.COMMUNITY_SECRETARY:
            secretaries.setdefault(a.node_id, a.user)
    return leader, handlers, secretaries


def _escalate_to_level_3(subdistrict: OrgNode, need: int, rng: random.Random, handlers: dict[int, Any],
                         secretaries: dict[int, Any]) -> dict[int, Department]:
    """Bring `need` more cases to level 3 through case_act; case id → the department that had it."""
    had: dict[int, Department | None] = {}
    candidates = (Case.objects.filter(subdistrict=subdistrict, level__lt=Level.JOINT_MEETING, tier=Tier.PUBLIC,
                                      merged_into__isnull=True,
                                      state__in=(State.DISPATCHED, State.ACKNOWLEDGED, State.IN_PROGRESS,
                                                 State.ACCEPTED))
                  .select_related("handling_department").order_by("-handling_department_id", "created_at"))
    for case in candidates:
        if len(had) >= need:
            break
        secretary = secretaries.get(case.community_id)
        handler = handlers.get(case.handling_department_id) if case.handling_department_id else None
        if secretary is None and handler is None:
            continue
        department = case.handling_department
        # The department gives up first (level 2 → 3 from its hands), else the community takes it up.
        while case.level < Level.JOINT_MEETING:
            actor = handler if handler is not None and case.handling_department_id else secretary
            if actor is None:
                break
            reason = rng.choice(REASONS) if case.level == Level.DEPARTMENT else "社区调处未果，提请街道科室化解。"
            case = case_act(actor=actor, case=case, action=Action.ESCALATE, reason=reason)
        if case.level == Level.JOINT_MEETING:
            had[case.pk] = department
    return had


def _waiting(subdistrict: OrgNode) -> list[int]:
    return list(Case.objects.filter(subdistrict=subdistrict, level=Level.JOINT_MEETING, state=State.ACCEPTED,
                                    tier=Tier.PUBLIC, merged_into__isnull=True).values_list("pk", flat=True))


def seed_joint_meetings(subdistrict: OrgNode, *, seed: int) -> str:
    rng = random.Random(seed * 31 + subdistrict.pk)
    leader, handlers, secretaries = _staff(subdistrict)
    departments = {d.name: d for d in Department.objects.filter(subdistrict=subdistrict, is_active=True)}
    fallback = next(iter(departments.values()), None)
    if leader is None or fallback is None:
        return "联席会议 / joint meetings: 0"
    # The cases the held meeting decides: two waiting at level 3 (escalated now if there are none).
    previous: dict[int, Department | None] = dict.fromkeys(_waiting(subdistrict))
    if len(previous) < 2:
        previous.update(_escalate_to_level_3(subdistrict, 2 - len(previous), rng, handlers, secretaries))
    if not previous:
        return "联席会议 / joint meetings: 0"

    now = timezone.localtime()
    held_at = timezone.make_aware(datetime.combine(now.date(), time(9, 30)))
    if held_at > now:
        held_at = timezone.make_aware(datetime.combine(now.date() - timedelta(days=1), time(14, 30)))
    host = leader.full_name or leader.username
    held = mediation.joint_meeting_create(actor=leader, subdistrict=subdistrict, held_at=held_at,
                                          location="街道三楼会议室", host=host)
    decided = 0
    for item in held.items.select_related("case").order_by("sort_order"):
        if decided == 2:  # more than two were already waiting: the rest wait for the next meeting
            mediation.joint_meeting_item_remove(actor=leader, item=item)
            continue
        lead = previous.get(item.case_id) or departments.get("平安办（综治中心）") or fallback
        partners = [departments[name] for name in PARTNERS if name in departments and departments[name] != lead][:2]
        due = now.date() + timedelta(days=rng.choice((7, 10, 15)))
        partner_names = "、".join(d.name for d in partners)
        text = (f"由{lead.name}牵头" + (f"，{partner_names}配合" if partners else "")
                + f"，{due.month}月{due.day}日前制定处置方案并落实到位，办结后向联席会议书面报告。")
        mediation.joint_meeting_decide(actor=leader, item=item, decision=text, lead_department=lead,
                                       co_departments=partners, due_date=due)
        decided += 1
        handler = handlers.get(lead.pk)
        if handler is not None and decided == 1:
            case_act(actor=handler, case=item.case, action=Action.ACKNOWLEDGE)
    mediation.joint_meeting_hold(
        actor=leader, meeting=held, held_at=held_at,
        attendees="街道分管领导、" + "、".join(list(departments)[:6]) + "负责人",
        summary="会议听取了各科室对上报事项的情况汇报，逐件研究确定了牵头单位、配合单位和办理时限。"
                "各牵头单位要按时限办结并向联席会议书面报告，配合单位要主动对接、形成合力。",
    )
    # One the held meeting could not settle: handed over to the district (区级办理中), waiting for its reply.
    _escalate_to_level_3(subdistrict, max(0, 1 - len(_waiting(subdistrict))), rng, handlers, secretaries)
    handed = 0
    for pk in _waiting(subdistrict)[:1]:
        case_act(actor=leader, case=Case.objects.get(pk=pk), action=Action.HAND_OVER,
                 reason="联席会议协调不成，涉及区级部门职责，移交区级处理。",
                 district_ref=f"区12345-{now:%Y%m%d}-{rng.randint(1000, 9999)}")
        handed += 1
    # Escalated since: the agenda of the next meeting, in preparation.
    more = max(0, WANTED - 2 - len(_waiting(subdistrict)))
    _escalate_to_level_3(subdistrict, more, rng, handlers, secretaries)
    planned = timezone.make_aware(datetime.combine(now.date() + timedelta(days=14), time(14, 30)))
    title = mediation.default_title(planned.date())
    if title == held.title:
        title += "（第二次）"
    draft = mediation.joint_meeting_create(actor=leader, subdistrict=subdistrict, title=title, held_at=planned,
                                           location="街道三楼会议室", host=host)
    return (f"联席会议 / joint meetings: 2 次（已决定 {decided} 件，待上会 {draft.items.count()} 件，"
            f"移交区级 {handed} 件）")
