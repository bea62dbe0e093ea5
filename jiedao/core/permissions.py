"""Roles, what each may do, and where each may be bound: the whole policy in one place.

A user holds role assignments, each bound to an org node (and, for a department handler, to a
department). A permission granted by a role applies to the subtree under its node; the scoping
function in `jiedao.core.scope` is the only code that turns this policy into query filters.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Perm:
    """Permission names. Domain apps add theirs here so the policy stays readable in one file."""

    VIEW_ORG = "org.view"
    MANAGE_ORG = "org.manage"
    VIEW_USERS = "users.view"
    MANAGE_USERS = "users.manage"
    VIEW_AUDIT = "audit.view"
    VIEW_PEOPLE = "people.view"
    MANAGE_PEOPLE = "people.manage"
    REVEAL_PII = "people.reveal"
    IMPORT_PEOPLE = "people.import"
    # Find a resident by a full ID number or phone (people.services.resident_lookup): a reason,
    # audited, throttled. The list search never matches a full number (it would be an oracle).
    LOOKUP_PEOPLE = "people.lookup"
    VIEW_CASES = "cases.view"
    REPORT_CASES = "cases.report"
    REVEAL_REPORTER = "cases.reveal_reporter"  # a case reporter's phone in clear, for 回访 (with a reason)
    MANAGE_CATALOGUE = "cases.catalogue"
    JOINT_MEETINGS = "cases.joint_meetings"  # prepare, hold and decide the sub-district's 联席会议
    VIEW_BUSINESSES = "business.view"
    MANAGE_BUSINESSES = "business.manage"
    VIEW_INSIGHT = "insight.view"  # the classifier's evaluation page (scores, overrides)
    MANAGE_INSIGHT = "insight.manage"  # retrain, roll back the category classifier
    # Safety inspections (jiedao.safety): see campaigns, inspections, hazards and risk; inspect
    # (record inspections, act on hazards in one's place); plan campaigns, edit checklists and the
    # 三色 rule, escalate and extend hazards.
    VIEW_SAFETY = "safety.view"
    INSPECT_SAFETY = "safety.inspect"
    MANAGE_SAFETY = "safety.manage"
    # Welfare (jiedao.welfare): see monitored households, benefits and visit schedules in one's
    # place (masked as the registers); record visits, leads and requests; decide entry and exit,
    # keep the benefit programmes and import payments.
    VIEW_WELFARE = "welfare.view"
    RECORD_WELFARE = "welfare.record"
    MANAGE_WELFARE = "welfare.manage"
    # Petitions (jiedao.petitions): see petitions in one's place; register and handle them;
    # accept, extend, conclude and strike off (销号) repeat petitions.
    VIEW_PETITIONS = "petitions.view"
    HANDLE_PETITIONS = "petitions.handle"
    MANAGE_PETITIONS = "petitions.manage"


class Role(models.TextChoices):
    GRID_WORKER = "grid_worker", _("网格员")
    GRID_LEADER = "grid_leader", _("网格长")
    BUILDING_HEAD = "building_head", _("楼栋长")
    COMMUNITY_SECRETARY = "community_secretary", _("社区（村）书记")
    COMMUNITY_STAFF = "community_staff", _("社区（村）工作人员")
    DEPARTMENT_HANDLER = "department_handler", _("科室办理人员")
    LEADER = "leader", _("街道领导")
    ADMIN = "admin", _("系统管理员")


_EVERYONE = {Perm.VIEW_ORG}
# Registers: grid staff keep them (masked); only community heads and administrators reveal
# personal identifiers in clear, and only with a stated reason (DESIGN.md §5).
_REGISTER_KEEPERS = {Perm.VIEW_PEOPLE, Perm.MANAGE_PEOPLE, Perm.VIEW_BUSINESSES, Perm.MANAGE_BUSINESSES}
# Cases: who may see the cases of a place and file new ones there. Department handlers see the
# cases dispatched to their department (jiedao.cases.models.Case.scope_extra_q), not a place.
_CASE_WORKERS = {Perm.VIEW_CASES, Perm.REPORT_CASES}
# 回访 (calling the reporter back) is the community's work: its secretary and staff reveal a case
# reporter's phone, with a reason, audited; administrators too. Not grid workers (they file cases,
# the community calls back) and not sub-district leaders: a grant at the sub-district would open
# every caller's number of every community to one account that does not make the calls — leaders
# see the masked number and the audit log of who revealed it.
_CALLERS_BACK = {Perm.REVEAL_REPORTER}
# Safety: grid staff inspect; communities, leaders and administrators plan and supervise.
_INSPECTORS = {Perm.VIEW_SAFETY, Perm.INSPECT_SAFETY}
_SAFETY_MANAGERS = {Perm.VIEW_SAFETY, Perm.MANAGE_SAFETY}
# Welfare: grid staff visit and record; communities, leaders and administrators decide.
_WELFARE_VISITORS = {Perm.VIEW_WELFARE, Perm.RECORD_WELFARE}
_WELFARE_MANAGERS = {Perm.VIEW_WELFARE, Perm.RECORD_WELFARE, Perm.MANAGE_WELFARE}
# Petitions: communities and the sub-district's petition office register and handle; leaders
# and administrators accept, extend and strike off. Grid workers see none (a petitioner's
# matter is not the grid's business), but follow their 重点信访人员 through the visit schedules.
_PETITION_HANDLERS = {Perm.VIEW_PETITIONS, Perm.HANDLE_PETITIONS}
_PETITION_MANAGERS = {Perm.VIEW_PETITIONS, Perm.HANDLE_PETITIONS, Perm.MANAGE_PETITIONS}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.GRID_WORKER: frozenset(_EVERYONE | _REGISTER_KEEPERS | _CASE_WORKERS | _INSPECTORS | _WELFARE_VISITORS),
    Role.GRID_LEADER: frozenset(_EVERYONE | _REGISTER_KEEPERS | _CASE_WORKERS | _INSPECTORS | _WELFARE_VISITORS),
    Role.BUILDING_HEAD: frozenset(_EVERYONE),
    Role.COMMUNITY_SECRETARY: frozenset(
        _EVERYONE | _REGISTER_KEEPERS | _CASE_WORKERS | _CALLERS_BACK
        | {Perm.VIEW_USERS, Perm.REVEAL_PII, Perm.IMPORT_PEOPLE, Perm.LOOKUP_PEOPLE}
        | _INSPECTORS | _SAFETY_MANAGERS | _WELFARE_MANAGERS | _PETITION_MANAGERS
    ),
    Role.COMMUNITY_STAFF: frozenset(
        _EVERYONE | _REGISTER_KEEPERS | _CASE_WORKERS | _CALLERS_BACK | {Perm.IMPORT_PEOPLE}
        | _INSPECTORS | _SAFETY_MANAGERS | _WELFARE_MANAGERS | _PETITION_HANDLERS
    ),
    Role.DEPARTMENT_HANDLER: frozenset(_EVERYONE | {Perm.VIEW_BUSINESSES, Perm.VIEW_SAFETY}),
    Role.LEADER: frozenset(
        _EVERYONE
        | _CASE_WORKERS
        | {Perm.VIEW_USERS, Perm.VIEW_AUDIT, Perm.VIEW_PEOPLE, Perm.VIEW_BUSINESSES, Perm.VIEW_INSIGHT}
        | {Perm.JOINT_MEETINGS}
        | _SAFETY_MANAGERS | _WELFARE_MANAGERS | _PETITION_MANAGERS
    ),
    Role.ADMIN: frozenset(
        _EVERYONE
        | _REGISTER_KEEPERS
        | _CASE_WORKERS
        | _CALLERS_BACK
        | {Perm.MANAGE_CATALOGUE, Perm.MANAGE_ORG, Perm.VIEW_USERS, Perm.MANAGE_USERS, Perm.VIEW_AUDIT, Perm.REVEAL_PII, Perm.IMPORT_PEOPLE}
        | {Perm.LOOKUP_PEOPLE}
        | {Perm.VIEW_INSIGHT, Perm.MANAGE_INSIGHT}
        | {Perm.JOINT_MEETINGS}
        | _INSPECTORS | _SAFETY_MANAGERS | _WELFARE_MANAGERS | _PETITION_MANAGERS
    ),
}

# The org node kinds a role may be bound to (see jiedao.org.models.NodeKind).
ROLE_NODE_KINDS: dict[str, frozenset[str]] = {
    Role.GRID_WORKER: frozenset({"grid", "microgrid"}),
    Role.GRID_LEADER: frozenset({"grid", "community", "village"}),
    Role.BUILDING_HEAD: frozenset({"building", "microgrid"}),
    Role.COMMUNITY_SECRETARY: frozenset({"community", "village"}),
    Role.COMMUNITY_STAFF: frozenset({"community", "village"}),
    Role.DEPARTMENT_HANDLER: frozenset({"subdistrict"}),
    Role.LEADER: frozenset({"subdistrict", "district", "city"}),
    Role.ADMIN: frozenset({"subdistrict", "district", "city"}),
}

ROLES_NEEDING_DEPARTMENT = frozenset({Role.DEPARTMENT_HANDLER})
