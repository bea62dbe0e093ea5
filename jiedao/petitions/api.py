"""REST endpoints of 信访 petitions (mounted under /api/v1/petitions). Thin: parse, call a selector
or service, answer. Out of scope is 404 like missing; refusals are 4xx {detail, field, code}."""

from datetime import date
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from jiedao.core.api import READ_ERRORS, WRITE_ERRORS, InSchema, ObjId, id_path, paginated, ref_or_404
from jiedao.core.errors import DomainError
from jiedao.org import selectors as org_selectors
from jiedao.org.models import Department
from jiedao.people import selectors as people_selectors
from jiedao.petitions import selectors, services, workflow
from jiedao.petitions.models import Channel, MatterStage, PetitionCategory, PetitionState, Stability
from jiedao.petitions.workflow import PetitionAction

router = Router(tags=["信访"])


def _node(request: Any, pk: int | None, field: str = "node") -> Any:
    return ref_or_404(org_selectors.node_get, request.auth, pk, field)


def _department(request: Any, pk: int | None) -> Department | None:
    if pk is None:
        return None
    department = Department.objects.filter(pk=pk).first()
    if department is None:
        raise DomainError(_("未找到该部门。"), field="department")
    return department


# --- schemas ------------------------------------------------------------------------------------


class PetitionerOut(Schema):
    id: int
    name: str
    id_number_masked: str
    phone_masked: str
    resident_id: int | None
    is_key: bool


class PetitionOut(Schema):
    id: int
    code: str
    channel: str
    received_on: date
    node_id: int
    community_id: int | None
    category: str
    title: str
    is_group: bool
    people_count: int
    state: str
    state_label: str
    accept_due: date
    decided_on: date | None
    conclude_due: date | None
    extended_days: int
    replied_on: date | None
    review_due: date | None
    recheck_due: date | None
    closed_on: date | None
    overdue: list[str]
    is_repeat: bool
    matter_id: int | None
    case_id: int | None

    @staticmethod
    def resolve_state_label(obj) -> str:
        return str(obj.get_state_display())

    @staticmethod
    def resolve_is_repeat(obj) -> bool:
        # a repeat of a matter the reader cannot see is not marked (selectors._with_matter_seen)
        return bool(obj.is_repeat and getattr(obj, "matter_seen", True))

    @staticmethod
    def resolve_matter_id(obj) -> int | None:
        return obj.matter_id if getattr(obj, "matter_seen", True) else None

    @staticmethod
    def resolve_overdue(obj) -> list[str]:
        return obj.overdue_flags(timezone.localdate())


class CandidateOut(Schema):
    id: int
    earlier_id: int
    earlier_code: str
    basis: str
    score: float
    status: str

    @staticmethod
    def resolve_earlier_code(obj) -> str:
        return obj.earlier.code


class PetitionStepOut(Schema):
    seq: int
    action: str
    from_state: str
    to_state: str
    actor_repr: str
    reason: str
    created_at: Any


class PetitionDetailOut(PetitionOut):
    content: str
    demands: str
    reply: str
    extension_reason: str
    petitioners: list[PetitionerOut]
    candidates: list[CandidateOut]
    history: list[PetitionStepOut]
    allowed_actions: list[str]

    @staticmethod
    def resolve_petitioners(obj) -> list:
        return selectors.petition_petitioners(obj)

    @staticmethod
    def resolve_candidates(obj) -> list:
        return obj.candidate_rows

    @staticmethod
    def resolve_history(obj) -> list:
        return list(selectors.petition_history(obj))


class PetitionerIn(InSchema):
    resident: ObjId | None = Field(None, description="在册居民编号（与姓名、证件二选一）")
    name: str = Field("", max_length=64)
    id_number: str = Field("", max_length=24)
    phone: str = Field("", max_length=24)


class PetitionIn(InSchema):
    node: ObjId = Field(description="事项发生地：社区、村、网格、微网格或楼栋")
    channel: Channel
    received_on: date
    category: PetitionCategory
    title: str = Field("", max_length=100)
    content: str = Field(max_length=4000)
    demands: str = Field("", max_length=500)
    petitioners: list[PetitionerIn] = Field(min_length=1, max_length=20)
    is_group: bool = False
    people_count: int | None = Field(None, ge=1, le=500)
    department: ObjId | None = None
    unit_node: ObjId | None = None


class PetitionActionIn(InSchema):
    action: PetitionAction
    reason: str = Field("", max_length=2000)
    days: int | None = Field(None, ge=1, le=workflow.EXTEND_MAX_DAYS, description="延期天数（延期时）")


class CandidateDecisionIn(InSchema):
    confirm: bool


class ReasonIn(InSchema):
    reason: str = Field(max_length=500)


class PetitionFilters(Schema):
    state: PetitionState | None = None
    channel: Channel | None = None
    overdue: str | None = Field(None, pattern="^(accept|conclude|review|recheck|any)$")
    community: ObjId | None = None
    repeat: bool | None = None
    q: str = Field("", max_length=50)


class MatterOut(Schema):
    id: int
    code: str
    title: str
    stage: str
    community_id: int | None
    causes: str
    responsible_unit: str
    basis: str
    wants: str
    diagnosed_on: date | None
    evidence: str
    struck_off_on: date | None


class PlanMeasureOut(Schema):
    id: int
    text: str
    owner: str
    due_on: date
    done_on: date | None


class DiagnosisIn(InSchema):
    causes: str = Field(max_length=1000)
    responsible_unit: str = Field(max_length=100)
    basis: str = Field(max_length=1000)
    wants: str = Field(max_length=1000)


class PlanMeasureIn(InSchema):
    text: str = Field(max_length=300)
    owner: str = Field(max_length=64)
    due_on: date


class StrikeIn(InSchema):
    evidence: str = Field(max_length=2000)


class KeyPlanOut(Schema):
    id: int
    petitioner_id: int
    stability: str
    interval_days: int
    next_due: date
    last_contact_on: date | None
    ended_on: date | None


class KeyFlagIn(InSchema):
    reason: str = Field(max_length=500)
    interval_days: int = Field(30, ge=1, le=180)
    stability: Stability = Stability.WATCH


class ContactIn(InSchema):
    contacted_on: date
    way: str = Field(max_length=16)
    note: str = Field(max_length=1000)
    stability: Stability


class PetitionFigureOut(Schema):
    label: str
    value: str
    url: str | None


# --- petitions ----------------------------------------------------------------------------------


def _detail(request: Any, pk: int) -> Any:
    petition = selectors.petition_get(request.auth, pk)
    kinds = services.petition_actor_kinds(request.auth, petition)
    petition.candidate_rows = selectors.candidates_for(request.auth, petition)
    petition.allowed_actions = [str(a) for a in workflow.allowed_actions(petition.state, kinds, current=petition,
                                                                          actor=request.auth)]
    return petition


@router.get("/workflow", response={200: list[dict], **READ_ERRORS}, summary="信访流转表")
def workflow_table(request):
    return workflow.table_rows()


@router.get("/petitions", response={200: list[PetitionOut], **READ_ERRORS}, summary="信访件列表")
@paginated
def petition_list(request, filters: Query[PetitionFilters]):
    community = ref_or_404(lambda u, pk: selectors.communities(u).filter(pk=pk).first() or _missing(),
                           request.auth, filters.community, "community")
    return selectors.petition_list(request.auth, state=filters.state or "", channel=filters.channel or "",
                                   overdue=filters.overdue or "", community=community, text=filters.q,
                                   repeat=filters.repeat)


def _missing() -> Any:
    from django.http import Http404

    raise Http404(_("未找到该对象。"))


@router.post("/petitions", response={201: PetitionDetailOut, **WRITE_ERRORS}, summary="登记信访件")
def petition_register(request, payload: PetitionIn):
    parties = []
    for i, p in enumerate(payload.petitioners):
        if p.resident is not None:
            parties.append({"resident": ref_or_404(people_selectors.resident_get, request.auth, p.resident,
                                                   f"petitioners.{i}.resident")})
        else:
            parties.append({"name": p.name, "id_number": p.id_number, "phone": p.phone})
    petition = services.petition_register(
        actor=request.auth, node=_node(request, payload.node), channel=payload.channel,
        received_on=payload.received_on, category=payload.category, title=payload.title, content=payload.content,
        demands=payload.demands, petitioners=parties, is_group=payload.is_group, people_count=payload.people_count,
        department=_department(request, payload.department), unit_node=_node(request, payload.unit_node, "unit_node"),
    )
    return Status(201, _detail(request, petition.pk))


@router.get("/petitions/{petition_id}", response={200: PetitionDetailOut, **READ_ERRORS}, summary="信访件详情")
def petition_detail(request, petition_id: int = id_path("信访件编号")):
    return _detail(request, petition_id)


@router.post("/petitions/{petition_id}/actions", response={200: PetitionDetailOut, **WRITE_ERRORS},
             summary="信访件流转")
def petition_action(request, payload: PetitionActionIn, petition_id: int = id_path("信访件编号")):
    petition = selectors.petition_get(request.auth, petition_id)
    params = {"days": payload.days} if payload.days is not None else {}
    services.petition_act(actor=request.auth, petition=petition, action=payload.action, reason=payload.reason,
                          **params)
    return _detail(request, petition_id)


@router.post("/petitions/{petition_id}/case", response={200: PetitionDetailOut, **WRITE_ERRORS},
             summary="转为事项办理")
def petition_to_case(request, petition_id: int = id_path("信访件编号")):
    services.petition_to_case(actor=request.auth, petition=selectors.petition_get(request.auth, petition_id))
    return _detail(request, petition_id)


@router.post("/petitions/{petition_id}/joint-meeting", response={200: PetitionDetailOut, **WRITE_ERRORS},
             summary="提请联席会议")
def petition_propose_joint(request, payload: ReasonIn, petition_id: int = id_path("信访件编号")):
    services.petition_propose_joint(actor=request.auth, petition=selectors.petition_get(request.auth, petition_id),
                                    reason=payload.reason)
    return _detail(request, petition_id)


@router.post("/candidates/{candidate_id}", response={200: CandidateOut, **WRITE_ERRORS}, summary="确认或排除疑似重复")
def candidate_decide(request, payload: CandidateDecisionIn, candidate_id: int = id_path("疑似重复编号")):
    candidate = selectors.candidate_get(request.auth, candidate_id)
    services.candidate_decide(actor=request.auth, candidate=candidate, confirm=payload.confirm)
    return selectors.candidate_get(request.auth, candidate_id)


# --- petitioners and 重点信访人员 ------------------------------------------------------------------


@router.get("/petitioners", response={200: list[PetitionerOut], **READ_ERRORS}, summary="信访人列表")
@paginated
def petitioner_list(request, q: str = Query("", max_length=50), key: bool = False):
    return selectors.petitioner_list(request.auth, text=q, key_only=key)


@router.get("/petitioners/{petitioner_id}", response={200: PetitionerOut, **READ_ERRORS}, summary="信访人")
def petitioner_detail(request, petitioner_id: int = id_path("信访人编号")):
    return selectors.petitioner_get(request.auth, petitioner_id)


@router.post("/petitioners/{petitioner_id}/key", response={201: KeyPlanOut, **WRITE_ERRORS},
             summary="列为重点信访人员")
def key_flag(request, payload: KeyFlagIn, petitioner_id: int = id_path("信访人编号")):
    petitioner = selectors.petitioner_get(request.auth, petitioner_id)
    plan = services.key_person_flag(actor=request.auth, petitioner=petitioner, responsible=request.auth,
                                    **payload.model_dump())
    return Status(201, plan)


@router.get("/key-persons", response={200: list[KeyPlanOut], **READ_ERRORS}, summary="重点信访人员（到期待联系）")
@paginated
def key_persons(request, due: bool = False):
    return selectors.key_plans(request.auth, due_within=0 if due else None)


@router.post("/key-persons/{plan_id}/contacts", response={200: KeyPlanOut, **WRITE_ERRORS}, summary="记录稳控联系")
def key_contact(request, payload: ContactIn, plan_id: int = id_path("稳控计划编号")):
    plan = selectors.key_plan_get(request.auth, plan_id)
    services.key_contact_add(actor=request.auth, plan=plan, **payload.model_dump())
    return selectors.key_plan_get(request.auth, plan_id)


# --- the 销号 campaign ---------------------------------------------------------------------------


@router.get("/matters", response={200: list[MatterOut], **READ_ERRORS}, summary="重复信访事项")
@paginated
def matter_list(request, stage: MatterStage | None = None):
    return selectors.matter_list(request.auth, stage=stage or "")


@router.get("/matters/{matter_id}", response={200: MatterOut, **READ_ERRORS}, summary="重复信访事项详情")
def matter_detail(request, matter_id: int = id_path("事项编号")):
    return selectors.matter_get(request.auth, matter_id)


@router.get("/matters/{matter_id}/measures", response={200: list[PlanMeasureOut], **READ_ERRORS}, summary="化解方案")
def matter_measures(request, matter_id: int = id_path("事项编号")):
    return list(selectors.matter_get(request.auth, matter_id).measures.all())


@router.post("/matters/{matter_id}/diagnosis", response={200: MatterOut, **WRITE_ERRORS}, summary="体检会诊")
def matter_diagnose(request, payload: DiagnosisIn, matter_id: int = id_path("事项编号")):
    matter = selectors.matter_get(request.auth, matter_id)
    return services.matter_diagnose(actor=request.auth, matter=matter, **payload.model_dump())


@router.post("/matters/{matter_id}/measures", response={201: PlanMeasureOut, **WRITE_ERRORS}, summary="添加化解措施")
def matter_measure_add(request, payload: PlanMeasureIn, matter_id: int = id_path("事项编号")):
    matter = selectors.matter_get(request.auth, matter_id)
    return Status(201, services.measure_add(actor=request.auth, matter=matter, **payload.model_dump()))


@router.post("/matters/{matter_id}/measures/{measure_id}/done", response={200: PlanMeasureOut, **WRITE_ERRORS},
             summary="措施完成")
def matter_measure_done(request, matter_id: int = id_path("事项编号"), measure_id: int = id_path("措施编号")):
    matter = selectors.matter_get(request.auth, matter_id)
    measure = matter.measures.filter(pk=measure_id).first() or _missing()
    return services.measure_done(actor=request.auth, measure=measure)


@router.post("/matters/{matter_id}/strike-off", response={200: MatterOut, **WRITE_ERRORS}, summary="销号")
def matter_strike_off(request, payload: StrikeIn, matter_id: int = id_path("事项编号")):
    matter = selectors.matter_get(request.auth, matter_id)
    return services.matter_strike_off(actor=request.auth, matter=matter, evidence=payload.evidence)


@router.get("/figures", response={200: list[PetitionFigureOut], **READ_ERRORS}, summary="信访统计")
def figures(request, start: date, end: date, node: ObjId | None = None):
    if end < start:
        raise DomainError(_("结束日期不能早于开始日期。"), field="end")
    rows = selectors.panel_figures(request.auth, _node(request, node), start, end)
    return [{"label": label, "value": value, "url": url} for label, value, url in rows]
