"""No case without a next step.

`next_step(case)` answers, from the transition table and its guards, who is responsible for a
case now (a department, a community, the sub-district's joint meeting, the district), which kinds
of actor may move it on and by which actions; the case page shows it ("当前责任单位：城管办 ·
下一步：签收"). `stuck_check`, a scheduled job, lists every case that is not finished and breaks
the rule — no responsible unit, no action that moves it, or no active user of the right role (and
department) who could take one — and notifies the sub-district's leaders and administrators.
tests/cases/test_no_stuck_cases.py proves with random walks through the table that none can arise.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.cases.models import Case, Level, Notification, State
from jiedao.cases.workflow import TABLE, Action, Actor
from jiedao.core.permissions import Role

FINAL_STATES = (State.CLOSED, State.REJECTED)
# The actions that take a case forward, in the order the page names them as its next step; the
# others that move it (return, escalate, reject, merge, a failed verification) are ways out.
FORWARD = (Action.ACCEPT, Action.TIER, Action.DISPATCH, Action.ACKNOWLEDGE, Action.HANDLE, Action.RESOLVE,
           Action.HAND_OVER, Action.DISTRICT_REPLY, Action.VERIFY_PASS, Action.CLOSE)
# Which roles make a user each kind of actor (jiedao.cases.services.actor_kinds; a handler of a
# 小事 is the community's staff).
KIND_ROLES = {
    Actor.GRID: (Role.GRID_WORKER, Role.GRID_LEADER),
    Actor.COMMUNITY: (Role.COMMUNITY_SECRETARY, Role.COMMUNITY_STAFF),
    Actor.LEADER: (Role.LEADER,),
    Actor.ADMIN: (Role.ADMIN,),
}


@dataclass(frozen=True)
class NextStep:
    """Who must move a case now, and how."""

    unit: str  # 当前责任单位, as shown; "" when there is none
    unit_kind: str  # department, community, joint_meeting, subdistrict, district; "" when none
    kinds: frozenset[str]  # the actor kinds who may take the next step
    actions: tuple[str, ...]  # the next step's actions (forward ones first)

    @property
    def action_labels(self) -> list[str]:
        return [str(Action(a).label) for a in self.actions]

    @property
    def kind_labels(self) -> list[str]:
        return [str(Actor(k).label) for k in Actor.values if k in self.kinds]


def moves(case: Case) -> dict[str, frozenset[str]]:
    """Each action that moves `case` on from its state (a new state, or the tier a dispatch needs),
    with the actor kinds whose guards let them take it (asked for anyone of the kind)."""
    found: dict[str, frozenset[str]] = {}
    for row in TABLE.transitions:
        if case.state not in row.sources:
            continue
        if row.target in (None, case.state) and not (row.action == Action.TIER and not case.tier):
            continue
        kinds = frozenset(k for k in row.actors if k != Actor.RESIDENT and not row.refusal(case, None, {k}))
        if kinds:
            found[row.action] = found.get(row.action, frozenset()) | kinds
    return found


def next_step(case: Case, *, labels: bool = True) -> NextStep | None:
    """The responsible unit, the actor kinds and the actions that move `case` on; None for a
    finished case (结案, 不予受理). `labels=False` leaves the unit's name out (no queries)."""
    if case.state in FINAL_STATES:
        return None
    found = moves(case)
    forward = tuple(a for a in FORWARD if a in found)
    actions = forward or tuple(found)
    kinds = frozenset().union(*(found[a] for a in actions)) if actions else frozenset()
    unit_kind, unit = _unit(case, kinds, labels=labels)
    return NextStep(unit=unit, unit_kind=unit_kind, kinds=kinds, actions=actions)


def _unit(case: Case, kinds: frozenset[str], *, labels: bool) -> tuple[str, str]:
    def name(relation: str) -> str:
        node = getattr(case, relation) if labels and getattr(case, f"{relation}_id") else None
        return node.name if node is not None else ""

    if case.state == State.WITH_DISTRICT:
        label = _("区级（受理编号 %(ref)s）") % {"ref": case.district_ref} if case.district_ref else _("区级")
        return "district", label if labels else ""
    if Actor.HANDLER in kinds:
        if case.handling_department_id:
            return "department", name("handling_department")
        if case.handling_node_id:
            return "community", name("handling_node")
        return "", ""
    if kinds & {Actor.COMMUNITY, Actor.GRID}:
        if not case.community_id:
            return "", ""
        return "community", name("community")
    if Actor.LEADER in kinds or Actor.ADMIN in kinds:
        if case.level == Level.JOINT_MEETING:
            return "joint_meeting", (_("%(name)s联席会议") % {"name": name("subdistrict")}) if labels else ""
        return "subdistrict", name("subdistrict")
    return "", ""


# --- the scheduled check ------------------------------------------------------------------------

# What decides a case's next step and who may take it; cases alike in these are checked once.
_SHAPE = ("state", "level", "tier", "handling_department_id", "handling_node_id", "community_id", "grid_id",
          "subdistrict_id", "district_ref")
NOTIFY_LIMIT = 500  # cases notified per run (the list is complete; the notices are for people)


@dataclass(frozen=True)
class StuckCase:
    pk: int
    ticket: str
    title: str
    subdistrict_id: int | None
    why: str


def _who_can(kind: str, shape: dict[str, Any], roles: list[tuple[str, str, int | None]], paths: dict[int, str]) -> bool:
    """Whether an active user of this actor kind exists for a case of this shape."""
    place = paths.get(shape["grid_id"]) or paths.get(shape["community_id"]) or paths.get(shape["subdistrict_id"], "")
    if kind == Actor.HANDLER:
        department = shape["handling_department_id"]
        if department:
            return any(role == Role.DEPARTMENT_HANDLER and dept == department for role, _path, dept in roles)
        kind = Actor.COMMUNITY  # a 小事: the community's own staff handle it
    wanted = KIND_ROLES.get(kind, ())
    return bool(place) and any(role in wanted and place.startswith(path) for role, path, _dept in roles)


def stuck_cases(subdistrict_id: int | None = None) -> tuple[int, list[StuckCase]]:
    """(cases checked, the unfinished cases with no responsible unit, no move, or nobody to move them)."""
    from jiedao.org.models import OrgNode, RoleAssignment

    unfinished = Case.objects.exclude(state__in=FINAL_STATES)
    if subdistrict_id is not None:
        unfinished = unfinished.filter(subdistrict_id=subdistrict_id)
    shapes = list(unfinished.order_by().values(*_SHAPE).annotate(n=Count("id")))
    roles = list(RoleAssignment.objects.filter(user__is_active=True, node__is_active=True)
                 .values_list("role", "node__path", "department_id"))
    node_ids = {shape[key] for shape in shapes for key in ("grid_id", "community_id", "subdistrict_id") if shape[key]}
    paths = dict(OrgNode.objects.filter(pk__in=node_ids).values_list("id", "path"))
    checked, found = 0, []
    for shape in shapes:
        checked += shape.pop("n")
        step = next_step(Case(**shape), labels=False)
        why = ""
        if step is None or not step.actions:
            why = _("没有可以推进它的操作")
        elif not step.unit_kind:
            why = _("没有责任单位")
        elif not any(_who_can(kind, shape, roles, paths) for kind in (step.kinds - {Actor.ADMIN} or step.kinds)):
            labels = "、".join(str(Actor(k).label) for k in Actor.values if k in step.kinds - {Actor.ADMIN})
            why = _("没有在岗的%(who)s可以办理") % {"who": labels or Actor.ADMIN.label}
        if why:
            found += [StuckCase(pk, ticket, title, shape["subdistrict_id"], why)
                      for pk, ticket, title in unfinished.filter(**shape).values_list("pk", "ticket", "title")]
    return checked, found


def stuck_check() -> dict[str, Any]:
    """The scheduled job: find the stuck cases and tell each sub-district's leaders and
    administrators (once per case and person)."""
    from jiedao.org.models import RoleAssignment

    checked, found = stuck_cases()
    recipients: dict[int | None, list[int]] = defaultdict(list)
    for user_id, node_id in RoleAssignment.objects.filter(
            role__in=(Role.LEADER, Role.ADMIN), user__is_active=True,
            node_id__in={s.subdistrict_id for s in found}).values_list("user_id", "node_id"):
        recipients[node_id].append(user_id)
    notes = []
    for case in found[:NOTIFY_LIMIT]:
        message = _("事项 %(ticket)s「%(title)s」无人可推进：%(why)s，请指定承办单位或人员。") % {
            "ticket": case.ticket, "title": case.title[:30], "why": case.why}
        notes += [Notification(user_id=u, case_id=case.pk, kind="stuck", message=message[:300])
                  for u in set(recipients.get(case.subdistrict_id, ()))]
    Notification.objects.bulk_create(notes, ignore_conflicts=True)
    return {"checked": checked, "stuck": len(found), "notified": len(notes),
            "at": timezone.now().isoformat(timespec="seconds"),
            "cases": [f"{c.ticket} {c.why}" for c in found[:5]]}
