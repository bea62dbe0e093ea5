"""REST endpoints of the 联席会议 (level 3 of 三级调处), mounted under /api/v1/cases:
/joint-meetings, their agenda items, the decision on an item, and holding the meeting.

Meetings are seen by those who see the sub-district's cases (街道领导, 系统管理员) and by the
department handlers of member departments; only leaders and administrators of the sub-district
prepare, hold and decide them (403 for the others who see the meeting)."""

from datetime import date, datetime
from typing import Any, Literal

from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from jiedao.cases import selectors as case_selectors
from jiedao.cases.api_common import aware, case_node, scoped_node
from jiedao.cases.mediation import selectors
from jiedao.cases.mediation import services as mediation
from jiedao.core.api import MAX_ID, READ_ERRORS, WRITE_ERRORS, InSchema, ObjId, id_path, paginated, ref_or_404
from jiedao.org import selectors as org_selectors

router = Router()
T_JOINT = ["联席会议（三级调处）"]


def _department(request: Any, pk: int | None, field: str) -> Any:
    return ref_or_404(org_selectors.department_get, request.auth, pk, field)


def _departments(request: Any, pks: list[int] | None, field: str) -> list[Any] | None:
    if pks is None:
        return None
    return [_department(request, pk, field) for pk in dict.fromkeys(pks)]


# --- schemas ----------------------------------------------------------------------------------------


class DepartmentRefOut(Schema):
    id: int = Field(description="部门编号")
    name: str = Field(description="部门名称")


class JointItemOut(Schema):
    id: int = Field(description="议题编号")
    case_id: int = Field(description="事项编号")
    ticket: str = Field(description="查询编号")
    title: str = Field(description="事项标题")
    state: str = Field(description="事项状态代码")
    state_label: str = Field(description="事项状态")
    level: int = Field(description="事项当前调处层级")
    tier_label: str = Field(description="分流")
    place: str = Field(description="所属社区（村）· 网格")
    why: str = Field(description="列入原因：最近一次上报的理由")
    escalated_at: datetime | None = Field(None, description="上报至联席会议的时间")
    decision: str = Field(description="会议决定；未决定为空")
    lead_department: DepartmentRefOut | None = Field(None, description="牵头单位")
    co_departments: list[DepartmentRefOut] = Field(description="配合单位")
    due_date: date | None = Field(None, description="办理时限（当天下班时截止）")
    decided_at: datetime | None = Field(None, description="决定时间；null 为待决定")

    @staticmethod
    def resolve_ticket(obj) -> str:
        return obj.case.ticket

    @staticmethod
    def resolve_title(obj) -> str:
        return obj.case.title

    @staticmethod
    def resolve_state(obj) -> str:
        return obj.case.state

    @staticmethod
    def resolve_state_label(obj) -> str:
        return str(obj.case.get_state_display())

    @staticmethod
    def resolve_level(obj) -> int:
        return obj.case.level

    @staticmethod
    def resolve_tier_label(obj) -> str:
        return str(obj.case.get_tier_display()) if obj.case.tier else ""

    @staticmethod
    def resolve_place(obj) -> str:
        case = obj.case
        return " · ".join(n.name for n in (case.community, case.grid) if n is not None)

    @staticmethod
    def resolve_why(obj) -> str:
        step = getattr(obj, "escalation", None)
        return step.reason if step is not None else ""

    @staticmethod
    def resolve_escalated_at(obj) -> datetime | None:
        step = getattr(obj, "escalation", None)
        return step.created_at if step is not None else None

    @staticmethod
    def resolve_co_departments(obj) -> list[Any]:
        return list(obj.co_departments.all())


class JointMeetingSummaryOut(Schema):
    id: int = Field(description="会议编号")
    subdistrict_id: int = Field(description="街道编号")
    subdistrict_name: str = Field(description="街道名称")
    title: str = Field(description="会议名称")
    status: str = Field(description="状态代码：draft 筹备中 / held 已召开")
    status_label: str = Field(description="状态")
    held_at: datetime | None = Field(None, description="召开时间（筹备中为计划时间）")
    location: str = Field(description="地点")
    host: str = Field(description="主持人")
    item_count: int = Field(description="议题数")
    decided_count: int = Field(description="已决定的议题数")

    @staticmethod
    def resolve_subdistrict_name(obj) -> str:
        return obj.subdistrict.name

    @staticmethod
    def resolve_status_label(obj) -> str:
        return str(obj.get_status_display())

    @staticmethod
    def resolve_item_count(obj) -> int:
        count = getattr(obj, "item_count", None)
        return count if isinstance(count, int) else obj.items.count()

    @staticmethod
    def resolve_decided_count(obj) -> int:
        count = getattr(obj, "decided_count", None)
        return count if isinstance(count, int) else obj.items.filter(decided_at__isnull=False).count()


class JointMeetingOut(JointMeetingSummaryOut):
    summary: str = Field(description="会议纪要（含参会人员）")
    members: list[DepartmentRefOut] = Field(description="成员单位")
    items: list[JointItemOut] = Field(description="议程：每件上报至联席会议的事项及其决定")
    can_hold: bool = Field(description="当前用户能否筹备、召开和决定本会议")

    @staticmethod
    def resolve_members(obj) -> list[Any]:
        return selectors.meeting_members(obj)

    @staticmethod
    def resolve_items(obj) -> list[Any]:
        return selectors.meeting_items(obj)

    @staticmethod
    def resolve_can_hold(obj, context) -> bool:
        return selectors.can_hold(context["request"].auth, obj)


class PendingCaseOut(Schema):
    id: int = Field(description="事项编号")
    ticket: str = Field(description="查询编号")
    title: str = Field(description="标题")
    tier_label: str = Field(description="分流")
    category_name: str | None = Field(None, description="类别")
    why: str = Field(description="最近一次上报的理由")
    escalated_at: datetime | None = Field(None, description="上报时间")

    @staticmethod
    def resolve_tier_label(obj) -> str:
        return str(obj.get_tier_display()) if obj.tier else ""

    @staticmethod
    def resolve_category_name(obj) -> str | None:
        return obj.category.name if obj.category_id else None

    @staticmethod
    def resolve_why(obj) -> str:
        step = getattr(obj, "escalation", None)
        return step.reason if step is not None else ""

    @staticmethod
    def resolve_escalated_at(obj) -> datetime | None:
        step = getattr(obj, "escalation", None)
        return step.created_at if step is not None else None


class JointMeetingIn(InSchema):
    subdistrict: ObjId = Field(description="街道节点编号")
    title: str = Field("", max_length=100, description="会议名称（默认“2026年12月信访联席会议”，按召开月份）")
    held_at: datetime | None = Field(None, description="计划召开时间")
    location: str = Field("", max_length=100, description="地点")
    host: str = Field("", max_length=64, description="主持人")
    members: list[ObjId] | None = Field(None, max_length=200,
                                        description="成员单位（部门编号）；不填为本街道全部在用部门")


class JointMeetingUpdateIn(InSchema):
    title: str = Field(max_length=100, description="会议名称")
    held_at: datetime | None = Field(None, description="计划召开时间")
    location: str = Field("", max_length=100, description="地点")
    host: str = Field("", max_length=64, description="主持人")
    members: list[ObjId] | None = Field(None, max_length=200, description="成员单位（部门编号）；不填则不变")


class JointItemIn(InSchema):
    case: ObjId = Field(description="事项编号：本街道上报至联席会议（第三级）、处于“已受理”的事项")


class JointDecisionIn(InSchema):
    decision: str = Field(max_length=2000, description="会议决定（必填）")
    lead_department: ObjId = Field(description="牵头单位（须为本次会议的成员单位）")
    co_departments: list[ObjId] = Field([], max_length=50, description="配合单位（成员单位，不含牵头单位）")
    due_date: date = Field(description="办理时限（不早于今天；当天下班时截止）")


class JointHoldIn(InSchema):
    held_at: datetime = Field(description="召开时间（不晚于现在）")
    summary: str = Field(max_length=10000, description="会议纪要（必填）")
    attendees: str = Field("", max_length=1000, description="参会人员")
    location: str | None = Field(None, max_length=100, description="地点（不填则不变）")
    host: str | None = Field(None, max_length=64, description="主持人（不填则不变）")


# --- endpoints --------------------------------------------------------------------------------------


@router.get("/joint-meetings", response={200: list[JointMeetingSummaryOut], **READ_ERRORS}, summary="联席会议列表",
            tags=T_JOINT)
@paginated
def joint_meeting_list(
    request,
    status: Literal["draft", "held"] | None = Query(None, description="状态：draft 筹备中 / held 已召开"),
    subdistrict: int | None = Query(None, ge=1, le=MAX_ID, description="街道节点编号"),
):
    """街道领导、系统管理员看到本街道的会议；科室办理人员看到本科室为成员单位的会议。"""
    return selectors.meeting_list(request.auth, status=status,
                                  subdistrict=scoped_node(request, subdistrict, "subdistrict"))


@router.post("/joint-meetings", response={201: JointMeetingOut, **WRITE_ERRORS}, summary="筹备联席会议",
             tags=T_JOINT)
def joint_meeting_create(request, payload: JointMeetingIn):
    """新建一次联席会议（筹备中）：成员单位默认为本街道全部在用部门，议程自动列入本街道上报至联席会议、
    尚待决定的事项。需要该街道的街道领导或系统管理员。"""
    subdistrict = scoped_node(request, payload.subdistrict, "subdistrict")
    meeting = mediation.joint_meeting_create(
        actor=request.auth, subdistrict=subdistrict, title=payload.title,
        held_at=aware(payload.held_at) if payload.held_at else None, location=payload.location, host=payload.host,
        members=_departments(request, payload.members, "members"),
    )
    return Status(201, selectors.meeting_get(request.auth, meeting.pk))


@router.get("/joint-meetings/pending-cases", response={200: list[PendingCaseOut], **READ_ERRORS},
            summary="等待联席会议的事项", tags=T_JOINT)
@paginated
def joint_pending_cases(request, subdistrict: int = Query(..., ge=1, le=MAX_ID, description="街道节点编号")):
    """本街道上报至联席会议（第三级）、处于“已受理”、尚未列入筹备中会议议程的事项。"""
    node = case_node(request, subdistrict, "subdistrict")
    return selectors.with_escalations(list(selectors.pending_cases(request.auth, node)))


@router.get("/joint-meetings/{meeting_id}", response={200: JointMeetingOut, **READ_ERRORS}, summary="联席会议详情",
            tags=T_JOINT)
def joint_meeting_detail(request, meeting_id: int = id_path("会议编号")):
    return selectors.meeting_get(request.auth, meeting_id)


@router.put("/joint-meetings/{meeting_id}", response={200: JointMeetingOut, **WRITE_ERRORS},
            summary="修改筹备中的联席会议", tags=T_JOINT)
def joint_meeting_update(request, payload: JointMeetingUpdateIn, meeting_id: int = id_path("会议编号")):
    meeting = selectors.meeting_get(request.auth, meeting_id)
    mediation.joint_meeting_update(
        actor=request.auth, meeting=meeting, title=payload.title,
        held_at=aware(payload.held_at) if payload.held_at else None, location=payload.location, host=payload.host,
        members=_departments(request, payload.members, "members"),
    )
    return selectors.meeting_get(request.auth, meeting.pk)


@router.get("/joint-meetings/{meeting_id}/items", response={200: list[JointItemOut], **READ_ERRORS},
            summary="联席会议议程", tags=T_JOINT)
def joint_meeting_items(request, meeting_id: int = id_path("会议编号")):
    return selectors.meeting_items(selectors.meeting_get(request.auth, meeting_id))


@router.post("/joint-meetings/{meeting_id}/items", response={201: JointItemOut, **WRITE_ERRORS},
             summary="把事项列入议程", tags=T_JOINT)
def joint_meeting_item_add(request, payload: JointItemIn, meeting_id: int = id_path("会议编号")):
    meeting = selectors.meeting_get(request.auth, meeting_id)
    mediation.require_host(request.auth, meeting.subdistrict)  # 403 before the case is looked up
    case = ref_or_404(case_selectors.case_get, request.auth, payload.case, "case")
    item = mediation.joint_meeting_item_add(actor=request.auth, meeting=meeting, case=case)
    return Status(201, next(i for i in selectors.meeting_items(meeting) if i.pk == item.pk))


@router.post("/joint-meetings/{meeting_id}/agenda", response={200: list[JointItemOut], **WRITE_ERRORS},
             summary="补入新上报的事项", tags=T_JOINT)
def joint_meeting_agenda(request, meeting_id: int = id_path("会议编号")):
    """把筹备会议以来新上报至联席会议的事项补入议程；返回完整议程。"""
    meeting = selectors.meeting_get(request.auth, meeting_id)
    mediation.joint_meeting_agenda_build(actor=request.auth, meeting=meeting)
    return selectors.meeting_items(meeting)


@router.delete("/joint-meetings/{meeting_id}/items/{item_id}", response={204: None, **WRITE_ERRORS},
               summary="把未决定的事项移出议程", tags=T_JOINT)
def joint_meeting_item_remove(request, meeting_id: int = id_path("会议编号"), item_id: int = id_path("议题编号")):
    meeting = selectors.meeting_get(request.auth, meeting_id)
    item = selectors.meeting_item_get(meeting, item_id)
    mediation.joint_meeting_item_remove(actor=request.auth, item=item)
    return Status(204, None)


@router.post("/joint-meetings/{meeting_id}/items/{item_id}/decision", response={200: JointItemOut, **WRITE_ERRORS},
             summary="会议决定：牵头单位、配合单位和时限", tags=T_JOINT)
def joint_meeting_decide(
    request, payload: JointDecisionIn, meeting_id: int = id_path("会议编号"), item_id: int = id_path("议题编号")
):
    """作出决定即把事项派遣给牵头单位，办理期限为时限当天下班时间（办件规则，默认 17:30）；
    事项保持第三级，办结计入“联席会议化解”。每个议题只能决定一次。"""
    meeting = selectors.meeting_get(request.auth, meeting_id)
    item = selectors.meeting_item_get(meeting, item_id)
    mediation.require_host(request.auth, meeting.subdistrict)  # 403 before the departments are looked up
    mediation.joint_meeting_decide(
        actor=request.auth, item=item, decision=payload.decision,
        lead_department=_department(request, payload.lead_department, "lead_department"),
        co_departments=_departments(request, payload.co_departments, "co_departments") or [],
        due_date=payload.due_date,
    )
    return next(i for i in selectors.meeting_items(meeting) if i.pk == item.pk)


@router.post("/joint-meetings/{meeting_id}/hold", response={200: JointMeetingOut, **WRITE_ERRORS},
             summary="记录会议召开（时间、参会人员、纪要）", tags=T_JOINT)
def joint_meeting_hold(request, payload: JointHoldIn, meeting_id: int = id_path("会议编号")):
    meeting = selectors.meeting_get(request.auth, meeting_id)
    mediation.joint_meeting_hold(
        actor=request.auth, meeting=meeting, held_at=aware(payload.held_at), summary=payload.summary,
        attendees=payload.attendees, location=payload.location, host=payload.host,
    )
    return selectors.meeting_get(request.auth, meeting.pk)
