"""Every write of 信访 petitions: petitioners (sealed identifiers), registration with its time
limits and repeat detection, the one guarded transition function (`petition_act`), the links to
cases and the 联席会议, the repeated matters of the 销号 campaign, and 重点信访人员 follow-up.

Each function is keyword-only, runs in a transaction, checks the actor's scope with
jiedao.core.scope (out of scope = 404, in scope without the right = 403) and writes the audit
event. Bad input raises DomainError with a Chinese message naming the field; nothing changes.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.cases import services as case_services
from jiedao.cases.models import Case, Level, Source, State, Tier
from jiedao.cases.workflow import Action as CaseAction
from jiedao.core import audit, crypto, scope, sealed
from jiedao.core.errors import ConflictError, DomainError, PermissionError_
from jiedao.core.permissions import Perm, Role
from jiedao.core.validators import clean_text, validate_id_number, validate_phone
from jiedao.core.workflow import Effect, Machine, username
from jiedao.org.models import Department, NodeKind, OrgNode
from jiedao.people.models import Resident
from jiedao.petitions import similarity
from jiedao.petitions.models import (
    CandidateStatus,
    Channel,
    KeyContact,
    KeyPersonPlan,
    MatterNote,
    MatterStage,
    Petition,
    PetitionCategory,
    Petitioner,
    PetitionTransition,
    PlanMeasure,
    RepeatBasis,
    RepeatCandidate,
    RepeatedMatter,
    Stability,
)
from jiedao.petitions.workflow import (
    ACCEPT_DAYS,
    CONCLUDE_DAYS,
    DECIDE_DAYS,
    EXTEND_MAX_DAYS,
    REQUEST_DAYS,
    TABLE,
    PetitionAction,
    PetitionActor,
)

PETITION_NODE_KINDS = frozenset({NodeKind.COMMUNITY, NodeKind.VILLAGE, NodeKind.GRID, NodeKind.MICROGRID,
                                 NodeKind.BUILDING})
COMMUNITY_KINDS = frozenset({NodeKind.COMMUNITY, NodeKind.VILLAGE})
GROUP_MIN_PEOPLE = 5  # 集体访: five or more people (the usual reading of 多人采用走访形式, art. 18)
PEOPLE_MAX = 500
BACKDATE_DAYS = 366  # a petition entered late (from a paper register) may be this old
REPEAT_LOOKBACK_DAYS = 730  # repeats are looked for among the petitions of the last two years
REPEAT_MAX = 8  # candidates shown per new petition
CONTACT_WAYS = ("走访", "电话", "约谈", "视频", "其他")
_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


# --- small helpers ----------------------------------------------------------------------------


def _today() -> date:
    return timezone.localdate()


def _choice(value: Any, choices: Any, *, field: str, label: Any) -> str:
    if value not in choices.values:
        raise DomainError(_("%(label)s的取值无效。") % {"label": label}, field=field)
    return value


def _date(value: Any, *, field: str, label: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise DomainError(_("%(label)s应为日期，如 2026-03-01。") % {"label": label}, field=field) from None


def _int(value: Any, *, field: str, label: Any, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        raise DomainError(_("%(label)s须为 %(low)s–%(high)s 的整数。") % {"label": label, "low": low, "high": high},
                          field=field)
    return number


def community_of(node: OrgNode) -> OrgNode | None:
    """The community or village a node lies in (itself when it is one)."""
    if node.kind in COMMUNITY_KINDS:
        return node
    prefixes = [node.path[:n] for n in range(scope.PATH_SEGMENT, len(node.path), scope.PATH_SEGMENT)]
    return OrgNode.objects.filter(path__in=prefixes, kind__in=list(COMMUNITY_KINDS)).order_by("-path").first()


def new_code(prefix: str, day: date) -> str:
    return f"{prefix}{day:%Y%m%d}{''.join(secrets.choice(_CODE_ALPHABET) for _ in range(5))}"


def _place(actor: Any, node: OrgNode | None, perm: str = Perm.HANDLE_PETITIONS) -> OrgNode:
    if node is None:
        raise DomainError(_("请选择事项发生地（社区、村、网格或楼栋）。"), field="node")
    scope.require(actor, perm, node.path, view_perm=Perm.VIEW_PETITIONS)
    if node.kind not in PETITION_NODE_KINDS or not node.subdistrict_id:
        raise DomainError(_("事项发生地应为社区、村、网格、微网格或楼栋。"), field="node")
    return node


# --- petitioners --------------------------------------------------------------------------------


def _seal_identifiers(petitioner: Petitioner, id_number: str, phone: str) -> None:
    id_number = crypto.normalise(id_number or "", "id_number")
    if id_number:
        validate_id_number(id_number, field="id_number")
        for name, value in sealed.seal("id_number", id_number).fields("id_number").items():
            setattr(petitioner, name, value)
    phone = (phone or "").strip()
    if phone:
        validate_phone(phone, field="phone")
        for name, value in sealed.seal("phone", phone).fields("phone").items():
            setattr(petitioner, name, value)


def petitioner_for(*, actor: Any, node: OrgNode, resident: Resident | None = None, name: str = "",
                   id_number: str = "", phone: str = "") -> Petitioner:
    """The petitioner record for a resident of the register (its masks are the resident's), or for a
    person outside it: found again by the ID number's blind index (one person, one record), else
    created with the name and the ID number and phone sealed. Call inside a transaction."""
    if resident is not None:
        if not scope.restrict(Resident.objects.filter(pk=resident.pk), actor, Perm.VIEW_PEOPLE).exists():
            raise Http404(_("未找到该居民。"))
        found = Petitioner.objects.filter(resident=resident).first()
        if found is not None:
            return found
        petitioner = Petitioner(node=resident.node, subdistrict_id=resident.subdistrict_id or node.subdistrict_id,
                                resident=resident, name=resident.name,
                                id_number_masked=sealed.remask(resident.id_number_masked, "id_number"),
                                phone_masked=sealed.remask(resident.phone_masked, "phone"))
        petitioner.save()
        audit.record(actor=actor, action="petitions.petitioner.create", obj=petitioner,
                     after={"resident": resident.pk, "name": resident.name})
        return petitioner
    name = clean_text(name, field="name", label=_("信访人姓名"), max_length=64, required=True)
    number = crypto.normalise(id_number or "", "id_number")
    if number:
        validate_id_number(number, field="id_number")
        keys = sealed.lookup_keys("id_number", number)
        known = Petitioner.objects.select_for_update().filter(id_number_bidx__in=keys).first()
        if known is not None and scope.path_allows(actor, Perm.VIEW_PETITIONS, known.node.path):
            # Found by the full number: the typed name must agree, so a number never tells the name
            # on record (the stored name is not shown); a match is audited like a lookup.
            if "".join(known.name.split()) != "".join(name.split()):
                raise DomainError(_("该身份证号已登记为另一信访人，请核对姓名，或通过在册居民查找选择。"),
                                  field="name")
            after: dict[str, Any] = {"petitioner": known.pk, "id_number_masked": known.id_number_masked}
            phone = (phone or "").strip()
            if phone and not known.phone_bidx and not known.resident_id:
                validate_phone(phone, field="phone")
                for field_name, value in sealed.seal("phone", phone).fields("phone").items():
                    setattr(known, field_name, value)
                known.save()
                after["phone_masked"] = known.phone_masked
            audit.record(actor=actor, action="petitions.petitioner.match_id", obj=known, after=after)
            return known
        # someone the actor may not see: a record of its own at the actor's place
        # A resident of the register is linked by choosing it (found by name, or by the full number
        # through people's audited lookup), never silently by a typed number.
    petitioner = Petitioner(node=node, subdistrict_id=node.subdistrict_id, name=name)
    _seal_identifiers(petitioner, number, phone)
    petitioner.save()
    audit.record(actor=actor, action="petitions.petitioner.create", obj=petitioner,
                 after={"name": name, "id_number_masked": petitioner.id_number_masked,
                        "phone_masked": petitioner.phone_masked})
    return petitioner


@transaction.atomic
def petitioner_reveal(*, actor: Any, petitioner: Petitioner, field: str, reason: str) -> str:
    """Show a petitioner's ID number or phone in clear: the people reveal rules (Perm.REVEAL_PII at
    the petitioner's place, a reason, an audit event). A petitioner from the residents register is
    revealed on the resident's page instead (people.services.resident_reveal)."""
    if field not in {"id_number", "phone"}:
        raise DomainError(_("只能查看身份证号或联系电话的明文。"), field="field")
    if petitioner.resident_id:
        raise DomainError(_("该信访人是登记在册的居民，请在居民页面查看明文。"), field="field")
    scope.require(actor, Perm.REVEAL_PII, petitioner.node.path, view_perm=Perm.VIEW_PETITIONS)
    reason = " ".join((reason or "").split())
    if len(reason) < 2:
        raise DomainError(_("请填写查看明文的事由。"), field="reason")
    value = sealed.reveal(petitioner, field)
    audit.record(actor=actor, action=f"petitions.petitioner.reveal_{field}", obj=petitioner, reason=reason[:500])
    return value


# --- registration -------------------------------------------------------------------------------


def _unit(node: OrgNode, department: Department | None, unit_node: OrgNode | None) -> tuple[Any, Any]:
    if department is not None and unit_node is not None:
        raise DomainError(_("责任单位只能选一个：部门或社区（村）。"), field="department")
    if department is not None and (department.subdistrict_id != node.subdistrict_id or not department.is_active):
        raise DomainError(_("责任部门不属于该街道或已停用。"), field="department")
    if unit_node is not None and (unit_node.kind not in COMMUNITY_KINDS or unit_node.subdistrict_id != node.subdistrict_id):
        raise DomainError(_("责任社区（村）应为本街道的社区或村。"), field="unit_node")
    return department, unit_node


@transaction.atomic
def petition_register(
    *, actor: Any, node: OrgNode | None, channel: str, received_on: Any, category: str, content: str, title: str = "",
    petitioners: Iterable[Mapping[str, Any]], demands: str = "", is_group: bool = False, people_count: Any = None,
    department: Department | None = None, unit_node: OrgNode | None = None,
) -> Petition:
    """Register a petition (state 已登记): its 受理 time limit is the 15th day after receipt. Each
    petitioner is {"resident": Resident} or {"name", "id_number", "phone"} (see petitioner_for).
    The likely repeats (same petitioner, or similar text at the same community) are recorded as
    RepeatCandidate rows for staff to confirm or dismiss."""
    node = _place(actor, node)
    channel = _choice(channel, Channel, field="channel", label=_("信访形式"))
    category = _choice(category, PetitionCategory, field="category", label=_("问题类别"))
    received = _date(received_on, field="received_on", label=_("收到日期"))
    today = _today()
    if received > today or received < today - timedelta(days=BACKDATE_DAYS):
        raise DomainError(_("收到日期不能晚于今天，也不能早于一年前。"), field="received_on")
    content = clean_text(content, field="content", label=_("信访事项"), max_length=4000, required=True)
    title = clean_text(title, field="title", label=_("事项摘要"), max_length=100) or content[:30]
    demands = clean_text(demands, field="demands", label=_("诉求"), max_length=500)
    parties = list(petitioners or [])
    if not parties:
        raise DomainError(_("请至少登记一名信访人。"), field="petitioners")
    if len(parties) > 20:
        raise DomainError(_("一次最多登记 20 名信访人；集体访请登记代表并填写人数。"), field="petitioners")
    is_group = bool(is_group)
    count = len(parties) if people_count in (None, "") else _int(
        people_count, field="people_count", label=_("人数"), low=1, high=PEOPLE_MAX)
    if count < len(parties):
        raise DomainError(_("人数不能少于登记的信访人数。"), field="people_count")
    if is_group and count < GROUP_MIN_PEOPLE:
        raise DomainError(_("集体访的人数应不少于 %(n)s 人。") % {"n": GROUP_MIN_PEOPLE}, field="people_count")
    department, unit_node = _unit(node, department, unit_node)
    records = []
    for party in parties:
        record = petitioner_for(actor=actor, node=node, resident=party.get("resident"), name=party.get("name", ""),
                                id_number=party.get("id_number", ""), phone=party.get("phone", ""))
        if record not in records:
            records.append(record)
    petition = Petition.objects.create(
        code=new_code("XF", received), node=node, subdistrict_id=node.subdistrict_id, community=community_of(node),
        channel=channel, received_on=received, is_group=is_group, people_count=count, category=category,
        title=title, content=content, demands=demands, department=department, unit_node=unit_node,
        accept_due=received + timedelta(days=ACCEPT_DAYS), created_by=actor,
    )
    petition.petitioners.set(records)
    found = detect_repeats(petition)
    audit.record(actor=actor, action="petitions.petition.register", obj=petition, after={
        "channel": channel, "received_on": received.isoformat(), "people_count": count, "is_group": is_group,
        "petitioners": [p.pk for p in records], "candidates": len(found),
    })
    return petition


# --- repeat detection -----------------------------------------------------------------------------


def detect_repeats(petition: Petition) -> list[RepeatCandidate]:
    """Record the likely repeats of `petition` among the earlier petitions of the last two years
    in its sub-district: any sharing a petitioner (basis 同一信访人, score 1), or in the same
    community with a text similarity of at least similarity.THRESHOLD (basis 同一事项). At most
    REPEAT_MAX, best first; the pairs staff already judged are kept as they are."""
    since = petition.received_on - timedelta(days=REPEAT_LOOKBACK_DAYS)
    earlier = (Petition.objects.filter(subdistrict_id=petition.subdistrict_id, received_on__gte=since)
               .filter(Q(received_on__lt=petition.received_on) | Q(received_on=petition.received_on, pk__lt=petition.pk))
               .exclude(pk=petition.pk))
    scores: dict[int, tuple[str, float]] = {}
    ids = list(petition.petitioners.values_list("pk", flat=True))
    for pk in earlier.filter(petitioners__in=ids).values_list("pk", flat=True).distinct():
        scores[pk] = (RepeatBasis.PERSON, 1.0)
    if petition.community_id:
        text = similarity.text_of(petition.title, petition.content)
        for pk, title, content in earlier.filter(community_id=petition.community_id).values_list(
                "pk", "title", "content"):
            score = similarity.similar(text, similarity.text_of(title, content))
            if score >= similarity.THRESHOLD and pk not in scores:
                scores[pk] = (RepeatBasis.MATTER, round(score, 3))
    best = sorted(scores.items(), key=lambda kv: (-kv[1][1], -kv[0]))[:REPEAT_MAX]
    known = set(RepeatCandidate.objects.filter(petition=petition).values_list("earlier_id", flat=True))
    rows = [RepeatCandidate(petition=petition, earlier_id=pk, basis=basis, score=score)
            for pk, (basis, score) in best if pk not in known]
    return RepeatCandidate.objects.bulk_create(rows)


def _renumber(matter: RepeatedMatter) -> None:
    """The earliest petition of a matter is its first raising; every later one is a repeat."""
    members = list(matter.petitions.order_by("received_on", "pk").values_list("pk", flat=True))
    if members:
        Petition.objects.filter(pk=members[0]).update(is_repeat=False)
        Petition.objects.filter(pk__in=members[1:]).update(is_repeat=True)


def _reopen(actor: Any, matter: RepeatedMatter, petition: Petition) -> None:
    """A new repeat of a struck-off matter reopens it (已销号 → 化解中): the matter is not resolved
    after all. The strike-off is kept in the audit trail and a progress note says why."""
    matter = RepeatedMatter.objects.select_for_update().get(pk=matter.pk)
    before = audit.snapshot(matter, ["stage", "struck_off_on", "evidence"])
    struck = matter.struck_off_on
    matter.stage, matter.struck_off_on, matter.approved_by = MatterStage.PLANNED, None, None
    matter.version += 1
    matter.save()
    MatterNote.objects.create(matter=matter, noted_on=_today(), author=actor, text=(
        _("新的重复信访件 %(code)s，该事项重新打开（原于 %(day)s 销号）。")
        % {"code": petition.code, "day": struck.isoformat() if struck else "—"})[:1000])
    audit.record(actor=actor, action="petitions.matter.reopen", obj=matter, before=before,
                 after={"stage": matter.stage, "petition": petition.code})


@transaction.atomic
def candidate_decide(*, actor: Any, candidate: RepeatCandidate, confirm: bool, reason: str = "") -> RepeatCandidate:
    """Confirm a likely repeat (both petitions join one repeated matter, created with the earlier
    petition's place and summary when neither is in one yet) or dismiss it."""
    candidate = RepeatCandidate.objects.select_for_update().get(pk=candidate.pk)
    petition = Petition.objects.select_related("node").get(pk=candidate.petition_id)
    scope.require(actor, Perm.HANDLE_PETITIONS, petition.node.path, view_perm=Perm.VIEW_PETITIONS)
    if candidate.status != CandidateStatus.PENDING:
        raise ConflictError(_("该疑似重复已处理，请刷新后重试。"), field="candidate")
    earlier = Petition.objects.select_related("node").get(pk=candidate.earlier_id)
    if not scope.path_allows(actor, Perm.VIEW_PETITIONS, earlier.node.path):
        # the earlier petition lies where the actor sees nothing: the pair is not the actor's to judge
        raise Http404(_("未找到该疑似重复。"))
    candidate.status = CandidateStatus.CONFIRMED if confirm else CandidateStatus.DISMISSED
    candidate.decided_by, candidate.decided_at = actor, timezone.now()
    candidate.save(update_fields=["status", "decided_by", "decided_at"])
    after: dict[str, Any] = {"status": candidate.status, "earlier": earlier.code}
    if confirm:
        if petition.matter_id and earlier.matter_id and petition.matter_id != earlier.matter_id:
            raise DomainError(_("两件信访件已分属不同的重复信访事项，不能合并。"), field="candidate")
        matter = (RepeatedMatter.objects.filter(pk=petition.matter_id or earlier.matter_id).first()
                  if (petition.matter_id or earlier.matter_id) else None)
        if matter is None:
            matter = RepeatedMatter.objects.create(
                code=new_code("CF", _today()), node=earlier.node, subdistrict_id=earlier.subdistrict_id,
                community_id=earlier.community_id, title=earlier.title,
            )
            audit.record(actor=actor, action="petitions.matter.create", obj=matter, after={"title": matter.title})
        if matter.stage == MatterStage.STRUCK_OFF:
            _reopen(actor, matter, petition)
        Petition.objects.filter(pk__in=[petition.pk, earlier.pk]).update(matter=matter)
        _renumber(matter)
        after["matter"] = matter.code
    audit.record(actor=actor, action="petitions.candidate.decide", obj=petition, reason=reason[:500], after=after)
    return candidate


# --- the workflow ---------------------------------------------------------------------------------


def petition_actor_kinds(user: Any, petition: Petition) -> set[str]:
    """How the user relates to this petition (see jiedao.petitions.workflow.PetitionActor)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    if user.is_superuser:
        return {PetitionActor.ADMIN, PetitionActor.LEADER, PetitionActor.MANAGER, PetitionActor.HANDLER}
    kinds: set[str] = set()
    for role, path, active, _department in scope.role_rows(user):
        if not active or not petition.node.path.startswith(path):
            continue
        if role == Role.COMMUNITY_STAFF:
            kinds.add(PetitionActor.HANDLER)
        elif role == Role.COMMUNITY_SECRETARY:
            kinds.add(PetitionActor.MANAGER)
        elif role == Role.LEADER:
            kinds.add(PetitionActor.LEADER)
        elif role == Role.ADMIN:
            kinds.add(PetitionActor.ADMIN)
    return kinds


def petition_act(*, actor: Any, petition: Petition, action: str, reason: str = "", **params: Any) -> Petition:
    """Apply `action` to `petition` if the transition table (jiedao.petitions.workflow) allows it
    for this actor: compare-and-set on (state, version), a history row and the audit event."""
    with transaction.atomic():
        current = Petition.objects.select_related("node").get(pk=petition.pk)
        if not scope.restrict(Petition.objects.filter(pk=current.pk), actor, Perm.VIEW_PETITIONS).exists():
            raise Http404(_("未找到该信访件。"))
        kinds = petition_actor_kinds(actor, current)
        return PETITION_MACHINE.act(current, actor=actor, kinds=kinds, action=action, reason=reason, params=params)


def _accept(petition, now, reason, params):
    today = timezone.localdate(now)
    changes: dict[str, Any] = {"decided_on": today, "conclude_due": today + timedelta(days=CONCLUDE_DAYS)}
    if params.get("department") is not None or params.get("unit_node") is not None:
        department, unit_node = _unit(petition.node, params.get("department"), params.get("unit_node"))
        changes.update(department=department, unit_node=unit_node)
    return Effect(changes, data={"on_time": today <= petition.accept_due,
                                 "conclude_due": changes["conclude_due"].isoformat()})


def _reject(petition, now, reason, params):
    today = timezone.localdate(now)
    return Effect({"decided_on": today, "closed_on": today}, data={"on_time": today <= petition.accept_due})


def _extend(petition, now, reason, params):
    days = _int(params.get("days"), field="days", label=_("延期天数"), low=1, high=EXTEND_MAX_DAYS)
    due = petition.conclude_due + timedelta(days=days)
    return Effect({"conclude_due": due, "extended_days": days, "extension_reason": reason[:500]},
                  data={"from": petition.conclude_due.isoformat(), "to": due.isoformat(), "days": days})


def _reply(petition, now, reason, params):
    today = timezone.localdate(now)
    return Effect({"replied_on": today, "reply": reason[:2000], "review_until": today + timedelta(days=REQUEST_DAYS)},
                  data={"on_time": today <= petition.conclude_due})


def _request_review(petition, now, reason, params):
    today = timezone.localdate(now)
    return Effect({"review_requested_on": today, "review_due": today + timedelta(days=DECIDE_DAYS)})


def _decide_review(petition, now, reason, params):
    today = timezone.localdate(now)
    return Effect({"reviewed_on": today, "recheck_until": today + timedelta(days=REQUEST_DAYS)},
                  data={"on_time": today <= petition.review_due})


def _request_recheck(petition, now, reason, params):
    today = timezone.localdate(now)
    return Effect({"recheck_requested_on": today, "recheck_due": today + timedelta(days=DECIDE_DAYS)})


def _decide_recheck(petition, now, reason, params):
    today = timezone.localdate(now)
    return Effect({"rechecked_on": today, "closed_on": today}, data={"on_time": today <= petition.recheck_due})


def _conclude(petition, now, reason, params):
    return Effect({"closed_on": timezone.localdate(now)})


PETITION_MACHINE = Machine(
    table=TABLE, model=Petition, history_model=PetitionTransition, history_fk="petition",
    effects={
        PetitionAction.ACCEPT: _accept, PetitionAction.REJECT: _reject, PetitionAction.EXTEND: _extend,
        PetitionAction.REPLY: _reply, PetitionAction.REQUEST_REVIEW: _request_review,
        PetitionAction.DECIDE_REVIEW: _decide_review, PetitionAction.REQUEST_RECHECK: _request_recheck,
        PetitionAction.DECIDE_RECHECK: _decide_recheck, PetitionAction.CONCLUDE: _conclude,
    },
    actor_repr=username,
)


# --- cases and the 联席会议 -------------------------------------------------------------------------


def _visible_petition(actor: Any, petition: Petition, perm: str = Perm.HANDLE_PETITIONS) -> Petition:
    current = Petition.objects.select_for_update().select_related("node").filter(pk=petition.pk).first()
    if current is None:
        raise Http404(_("未找到该信访件。"))
    scope.require(actor, perm, current.node.path, view_perm=Perm.VIEW_PETITIONS)
    return current


@transaction.atomic
def petition_to_case(*, actor: Any, petition: Petition) -> Case:
    """File an accepted petition as a case of the case workflow (source 信访, 大事, internal: a
    petition is for the staff only and never reaches a public feed), through the cases app's one
    intake; the petition records the case, and the case page links back (case_links)."""
    petition = _visible_petition(actor, petition)
    if petition.case_id:
        raise DomainError(_("该信访件已转为事项 %(ticket)s。") % {"ticket": petition.case.ticket}, field="case")
    if petition.state != "handling":
        raise DomainError(_("只有办理中的信访件才能转为事项办理。"), field="case")
    # The case carries no petition text and no petitioner (a case is read by grid workers and
    # departments without the petitions right): a neutral title and the reference only, filed at the
    # community (not the grid or building where grid workers work); the content stays on the petition.
    node = petition.community or petition.node
    place = node.name if node.kind != NodeKind.BUILDING else petition.node.name
    title = _("信访事项转办：%(code)s %(category)s %(place)s") % {
        "code": petition.code, "category": petition.get_category_display(), "place": place}
    case = case_services.case_create(
        actor=actor, source=Source.PETITION, node=None if node.kind == NodeKind.BUILDING else node,
        building=node if node.kind == NodeKind.BUILDING else None, tier=Tier.PUBLIC, suggest=False,
        internal=True, title=title[:100],
        description=(_("信访件 %(code)s 转事项办理。信访内容和信访人只在信访件页面查看（须有信访权限）。")
                     % {"code": petition.code})[:2000],
    )
    Petition.objects.filter(pk=petition.pk).update(case=case)
    audit.record(actor=actor, action="petitions.petition.to_case", obj=petition, after={"case": case.ticket})
    return case


@transaction.atomic
def petition_propose_joint(*, actor: Any, petition: Petition, reason: str) -> Case:
    """Propose the petition's case to the sub-district's 联席会议: the case is accepted (大事) if it
    still waits for acceptance and raised through 三级调处 (cases' own 上报 action, with this reason)
    to level 3, where it waits in the meeting's pending list for a leader to put it on an agenda."""
    petition = _visible_petition(actor, petition)
    reason = " ".join((reason or "").split())
    if len(reason) < 2:
        raise DomainError(_("请填写提请联席会议的理由。"), field="reason")
    if not petition.case_id:
        raise DomainError(_("请先将信访件转为事项，再提请联席会议。"), field="case")
    case = Case.objects.get(pk=petition.case_id)
    if case.state == State.REPORTED:
        case = case_services.case_act(actor=actor, case=case, action=CaseAction.ACCEPT, tier=Tier.PUBLIC)
    while case.level < Level.JOINT_MEETING:
        case = case_services.case_act(actor=actor, case=case, action=CaseAction.ESCALATE,
                                      reason=(_("信访件 %(code)s 提请联席会议：%(reason)s")
                                              % {"code": petition.code, "reason": reason})[:1000])
    Petition.objects.filter(pk=petition.pk).update(joint_proposed_at=timezone.now())
    audit.record(actor=actor, action="petitions.petition.propose_joint", obj=petition, reason=reason[:500],
                 after={"case": case.ticket, "level": case.level})
    return case


# --- the 销号 campaign --------------------------------------------------------------------------------


def _matter(actor: Any, matter: RepeatedMatter, perm: str = Perm.HANDLE_PETITIONS) -> RepeatedMatter:
    current = RepeatedMatter.objects.select_for_update().select_related("node").filter(pk=matter.pk).first()
    if current is None:
        raise Http404(_("未找到该重复信访事项。"))
    scope.require(actor, perm, current.node.path, view_perm=Perm.VIEW_PETITIONS)
    if current.stage == MatterStage.STRUCK_OFF:
        raise DomainError(_("该事项已销号。"), field="stage")
    return current


@transaction.atomic
def matter_diagnose(*, actor: Any, matter: RepeatedMatter, causes: str, responsible_unit: str, basis: str,
                    wants: str) -> RepeatedMatter:
    """Record the 体检会诊: the causes, the responsible unit, the legal or policy basis and what the
    petitioner wants. A matter waiting for its diagnosis moves on to 化解中 (plan and progress)."""
    matter = _matter(actor, matter)
    before = audit.snapshot(matter, ["causes", "responsible_unit", "basis", "wants", "stage"])
    matter.causes = clean_text(causes, field="causes", label=_("问题成因"), max_length=1000, required=True)
    matter.responsible_unit = clean_text(responsible_unit, field="responsible_unit", label=_("责任单位"),
                                         max_length=100, required=True)
    matter.basis = clean_text(basis, field="basis", label=_("法律政策依据"), max_length=1000, required=True)
    matter.wants = clean_text(wants, field="wants", label=_("信访人诉求"), max_length=1000, required=True)
    matter.diagnosed_on, matter.diagnosed_by = _today(), actor
    matter.stage = MatterStage.PLANNED
    matter.version += 1
    matter.save()
    audit.record(actor=actor, action="petitions.matter.diagnose", obj=matter, before=before,
                 after=audit.snapshot(matter, ["causes", "responsible_unit", "basis", "wants", "stage"]))
    return matter


@transaction.atomic
def measure_add(*, actor: Any, matter: RepeatedMatter, text: str, owner: str, due_on: Any) -> PlanMeasure:
    """Add a measure to the matter's plan (after its diagnosis)."""
    matter = _matter(actor, matter)
    if matter.stage != MatterStage.PLANNED:
        raise DomainError(_("请先完成体检会诊，再制定化解方案。"), field="text")
    measure = PlanMeasure.objects.create(
        matter=matter, text=clean_text(text, field="text", label=_("措施"), max_length=300, required=True),
        owner=clean_text(owner, field="owner", label=_("责任人"), max_length=64, required=True),
        due_on=_date(due_on, field="due_on", label=_("完成时限")),
    )
    audit.record(actor=actor, action="petitions.matter.measure_add", obj=matter,
                 after={"measure": measure.pk, "text": measure.text, "owner": measure.owner,
                        "due_on": measure.due_on.isoformat()})
    return measure


@transaction.atomic
def measure_done(*, actor: Any, measure: PlanMeasure, done_on: Any = None) -> PlanMeasure:
    """Mark a plan measure done (today unless a date is given)."""
    _matter(actor, measure.matter)
    measure = PlanMeasure.objects.select_for_update().get(pk=measure.pk)
    if measure.done_on:
        raise ConflictError(_("该措施已完成。"), field="measure")
    day = _today() if done_on in (None, "") else _date(done_on, field="done_on", label=_("完成日期"))
    if day > _today():
        raise DomainError(_("完成日期不能晚于今天。"), field="done_on")
    measure.done_on = day
    measure.save(update_fields=["done_on"])
    audit.record(actor=actor, action="petitions.matter.measure_done", obj=measure.matter,
                 after={"measure": measure.pk, "done_on": day.isoformat()})
    return measure


@transaction.atomic
def matter_note_add(*, actor: Any, matter: RepeatedMatter, text: str) -> MatterNote:
    """Record progress (化解进展) on a matter."""
    matter = _matter(actor, matter)
    note = MatterNote.objects.create(matter=matter, noted_on=_today(), author=actor,
                                     text=clean_text(text, field="text", label=_("进展"), max_length=1000,
                                                     required=True))
    audit.record(actor=actor, action="petitions.matter.note", obj=matter, after={"note": note.text})
    return note


def _is_leader(actor: Any, path: str) -> bool:
    if actor.is_superuser:
        return True
    return any(active and role in (Role.LEADER, Role.ADMIN) and path.startswith(p)
               for role, p, active, _d in scope.role_rows(actor))


@transaction.atomic
def matter_strike_off(*, actor: Any, matter: RepeatedMatter, evidence: str) -> RepeatedMatter:
    """销号: a diagnosed matter whose plan is carried out (every measure done) is struck off with the
    evidence of its resolution, approved by a sub-district leader (the approving leader is the actor)."""
    matter = _matter(actor, matter, Perm.MANAGE_PETITIONS)
    if not _is_leader(actor, matter.node.path):
        raise PermissionError_(_("销号须经街道领导审批。"))
    if matter.stage != MatterStage.PLANNED:
        raise DomainError(_("请先完成体检会诊和化解方案，再申请销号。"), field="evidence")
    measures = list(matter.measures.all())
    if not measures:
        raise DomainError(_("化解方案还没有措施，不能销号。"), field="evidence")
    if any(m.done_on is None for m in measures):
        raise DomainError(_("化解方案还有未完成的措施，不能销号。"), field="evidence")
    matter.evidence = clean_text(evidence, field="evidence", label=_("化解情况及佐证"), max_length=2000,
                                 required=True)
    matter.stage, matter.struck_off_on, matter.approved_by = MatterStage.STRUCK_OFF, _today(), actor
    matter.version += 1
    matter.save()
    audit.record(actor=actor, action="petitions.matter.strike_off", obj=matter,
                 after={"stage": matter.stage, "struck_off_on": matter.struck_off_on.isoformat()})
    return matter


# --- 重点信访人员 ------------------------------------------------------------------------------------------


@transaction.atomic
def key_person_flag(*, actor: Any, petitioner: Petitioner, reason: str, interval_days: Any = 30,
                    responsible: Any = None, stability: str = Stability.WATCH) -> KeyPersonPlan:
    """Mark a petitioner as a 重点信访人员 with a follow-up plan (a responsible person, a contact
    interval, the 稳控 status); the first contact is due one interval from today."""
    petitioner = Petitioner.objects.select_for_update().select_related("node").get(pk=petitioner.pk)
    scope.require(actor, Perm.MANAGE_PETITIONS, petitioner.node.path, view_perm=Perm.VIEW_PETITIONS)
    days = _int(interval_days, field="interval_days", label=_("联系周期（天）"), low=1, high=180)
    stability = _choice(stability, Stability, field="stability", label=_("稳控状态"))
    reason = clean_text(reason, field="reason", label=_("列为重点的原因"), max_length=500, required=True)
    if responsible is not None and not scope.path_allows(responsible, Perm.HANDLE_PETITIONS, petitioner.node.path):
        raise DomainError(_("包联责任人应能办理该信访人所在地的信访。"), field="responsible")
    today = _today()
    plan = KeyPersonPlan.objects.filter(petitioner=petitioner).first()
    if plan is not None and plan.ended_on is None:
        raise ConflictError(_("该信访人已列为重点信访人员。"), field="petitioner")
    if plan is None:
        plan = KeyPersonPlan(petitioner=petitioner)
    plan.responsible, plan.interval_days, plan.stability, plan.reason = responsible, days, stability, reason
    plan.started_on, plan.ended_on, plan.next_due = today, None, today + timedelta(days=days)
    plan.save()
    Petitioner.objects.filter(pk=petitioner.pk).update(is_key=True)
    audit.record(actor=actor, action="petitions.key_person.flag", obj=petitioner, reason=reason,
                 after={"interval_days": days, "stability": stability,
                        "responsible": responsible.pk if responsible else None})
    return plan


def _plan(actor: Any, plan: KeyPersonPlan, perm: str) -> KeyPersonPlan:
    plan = KeyPersonPlan.objects.select_for_update().select_related("petitioner__node").get(pk=plan.pk)
    scope.require(actor, perm, plan.petitioner.node.path, view_perm=Perm.VIEW_PETITIONS)
    if plan.ended_on:
        raise DomainError(_("该人员已解除重点管控。"), field="plan")
    return plan


@transaction.atomic
def key_contact_add(*, actor: Any, plan: KeyPersonPlan, contacted_on: Any, way: str, note: str,
                    stability: str) -> KeyContact:
    """Log a contact with a 重点信访人员; the plan's status follows it and the next contact falls due
    one interval after it."""
    plan = _plan(actor, plan, Perm.HANDLE_PETITIONS)
    day = _date(contacted_on, field="contacted_on", label=_("联系日期"))
    if day > _today() or day < plan.started_on:
        raise DomainError(_("联系日期应在列入日期与今天之间。"), field="contacted_on")
    if way not in CONTACT_WAYS:
        raise DomainError(_("联系方式的取值无效。"), field="way")
    stability = _choice(stability, Stability, field="stability", label=_("稳控状态"))
    contact = KeyContact.objects.create(
        plan=plan, contacted_on=day, way=way, stability=stability, author=actor,
        note=clean_text(note, field="note", label=_("情况"), max_length=1000, required=True),
    )
    last = max(day, plan.last_contact_on or day)
    KeyPersonPlan.objects.filter(pk=plan.pk).update(
        last_contact_on=last, next_due=last + timedelta(days=plan.interval_days), stability=stability,
        updated_at=timezone.now())
    audit.record(actor=actor, action="petitions.key_person.contact", obj=plan.petitioner,
                 after={"contacted_on": day.isoformat(), "way": way, "stability": stability})
    return contact


@transaction.atomic
def key_person_end(*, actor: Any, plan: KeyPersonPlan, reason: str) -> KeyPersonPlan:
    """Take a petitioner off the 重点信访人员 list (息诉罢访), with the reason."""
    plan = _plan(actor, plan, Perm.MANAGE_PETITIONS)
    reason = clean_text(reason, field="reason", label=_("解除原因"), max_length=500, required=True)
    plan.ended_on = _today()
    plan.save(update_fields=["ended_on", "updated_at"])
    Petitioner.objects.filter(pk=plan.petitioner_id).update(is_key=False)
    audit.record(actor=actor, action="petitions.key_person.end", obj=plan.petitioner, reason=reason)
    return plan

