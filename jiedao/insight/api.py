"""REST endpoints of the insight app (mounted under /api/v1/insight): similar cases, duplicate
groups (list, detail, confirm, dismiss) and hotspots, scoped like the pages (a case, group or
node outside the caller's VIEW_CASES scope answers 404 exactly like a missing one); and category
suggestion at intake, for callers who may report cases (Perm.REPORT_CASES somewhere; the optional place must
be in that scope, else 404 like a missing one)."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema

from jiedao.cases import selectors as case_selectors
from jiedao.cases.catalogue import selectors as catalogue_selectors
from jiedao.cases.models import DESCRIPTION_MAX
from jiedao.core import scope
from jiedao.core.api import MAX_ID, READ_ERRORS, WRITE_ERRORS, ErrorOut, InSchema, NotFound, paginated
from jiedao.core.errors import DomainError, PermissionError_
from jiedao.core.permissions import Perm
from jiedao.insight import selectors, services
from jiedao.org import selectors as org_selectors

router = Router(tags=["文本研判"])
ObjId = Annotated[int, Field(ge=1, le=MAX_ID)]


class CaseRefOut(Schema):
    id: int = Field(description="事项编号（内部）")
    ticket: str = Field(description="查询编号")
    title: str = Field(description="标题")
    state: str = Field(description="状态代码")
    created_at: datetime = Field(description="登记时间")


class SimilarOut(Schema):
    case: CaseRefOut = Field(description="可能重复的先登记事项")
    score: float = Field(description="综合得分 0–1（文字、地点、时间、类别）")
    text: float = Field(description="文本引擎的成对得分 0–1")
    place: float = Field(description="地点一致程度 0–1（同楼栋 1，同微网格 0.7，同网格 0.5，相距 100 米内 1）")
    same_problem: bool = Field(description="文本引擎是否判为同一问题")
    evidence: list[str] = Field(description="依据")


class MemberOut(Schema):
    case: CaseRefOut
    merged: bool = Field(description="已并入主件")


class GroupOut(Schema):
    id: int
    status: str = Field(description="pending 待确认 / confirmed 已合并 / dismissed 已排除 / stale 已失效")
    score: float = Field(description="组内成对得分的平均值")
    evidence: str = Field(description="依据")
    main_case_id: int | None = Field(None, description="主件（确认后）")
    created_at: datetime
    decided_at: datetime | None = None
    reason: str = ""
    members: list[MemberOut]

    @staticmethod
    def resolve_members(obj) -> list:
        return selectors.group_members(obj)


class ConfirmIn(InSchema):
    main_case: ObjId = Field(description="主件（本组的一件事项）")
    cases: list[ObjId] | None = Field(None, description="要并入主件的事项；省略则为本组全部其他事项")
    reason: str = Field("", max_length=400, description="说明")


class DismissIn(InSchema):
    reason: str = Field("", max_length=500, description="说明")


class HotspotQuery(Schema):
    node: int | None = Field(None, ge=1, le=MAX_ID, description="范围节点（默认：本人全部管辖范围）")
    period: Literal["week", "month", "quarter"] = Field("month", description="周期：周、月、季度")
    level: Literal["building", "grid", "community", "subdistrict"] = Field("community", description="地区粒度")
    order: Literal["heat", "size", "growth", "support"] = Field("heat", description="排序")
    day: date | None = Field(None, description="周期内任意一天（默认今天）")
    limit: int = Field(10, ge=1, le=50)


class HotspotOut(Schema):
    area_id: int
    area_name: str
    category_id: int | None
    category_name: str
    size: int = Field(description="本期件数")
    previous: int = Field(description="上一周期件数")
    growth: float | None = Field(description="较上一周期增长（上一周期为 0 时为 null）")
    reporters: int = Field(description="不同反映人数")
    reposts: int = Field(description="重复反映（已并入他件）件数")
    chases: int = Field(description="催办（同一反映人再次反映、督办）次数")
    open: int = Field(description="未结件数")
    heat: float = Field(description="综合热度")
    representatives: list[CaseRefOut]


def _case(request, pk: int, field: str = "case"):
    try:
        return case_selectors.case_get(request.auth, pk)
    except Http404:
        raise NotFound(field) from None


class SimilarQuery(Schema):
    node: int = Field(..., ge=1, le=MAX_ID, description="登记地点（网格、微网格、楼栋或社区）")
    title: str = Field("", max_length=100, description="标题")
    text: str = Field("", max_length=DESCRIPTION_MAX, description="描述（查询串的长度受网址长度限制，长描述请用 POST）")
    category: str | None = Field(None, max_length=40, description="类别代码")
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)


class SimilarIn(InSchema):
    node: ObjId = Field(..., description="登记地点（网格、微网格、楼栋或社区）")
    title: str = Field("", max_length=100, description="标题")
    text: str = Field("", max_length=DESCRIPTION_MAX, description="描述（最长与事项描述相同）")
    category: str | None = Field(None, max_length=40, description="类别代码")
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)


def _similar_at_intake(request, query: SimilarQuery | SimilarIn) -> list[dict[str, Any]]:
    try:
        node = org_selectors.node_get(request.auth, query.node, Perm.VIEW_CASES)
    except Http404:
        raise NotFound("node") from None
    category = None
    if query.category:
        try:
            category = catalogue_selectors.category_by_code(query.category)
        except Http404:
            raise NotFound("category") from None
    found = selectors.similar_for_text(request.auth, node=node, title=query.title, text=query.text,
                                       category=category, latitude=query.latitude, longitude=query.longitude)
    return [{"case": s.case, "score": s.score, "text": s.text, "place": s.place, "same_problem": s.same_problem,
             "evidence": s.evidence} for s in found]


@router.post("/similar", response={200: list[SimilarOut], **READ_ERRORS, 400: ErrorOut, 403: ErrorOut, 413: ErrorOut},
              summary="登记前：可能重复的事项")
def similar_at_intake(request, payload: SimilarIn):
    """正在登记的诉求（地点 + 标题 + 描述，放在请求体中，描述最长 10000 字）与本人可见的未结事项比对，最多 5 件：
    近 30 天同网格或附近的，以及一年内本人范围内文字相近的（全文索引）。"""
    return _similar_at_intake(request, payload)


@router.get("/similar", response={200: list[SimilarOut], **READ_ERRORS}, summary="登记前：可能重复的事项（短文本）")
def similar_at_intake_get(request, query: Query[SimilarQuery]):
    """与 `POST /similar` 相同，参数在查询串中；网址长度有限（约 8000 字节），长描述请用 POST。"""
    return _similar_at_intake(request, query)


@router.get("/similar/{case_id}", response={200: list[SimilarOut], **READ_ERRORS}, summary="可能重复的先登记事项")
def similar(request, case_id: int = Path(..., ge=1, le=MAX_ID)):
    """本件之前登记、本人可见的未结事项中可能是同一问题的（最多 5 件）：近 30 天同网格或附近的，以及一年内文字相同或几乎相同的。"""
    case = _case(request, case_id)
    return [{"case": s.case, "score": s.score, "text": s.text, "place": s.place, "same_problem": s.same_problem,
             "evidence": s.evidence} for s in selectors.similar_for_case(request.auth, case)]


@router.get("/duplicate-groups", response={200: list[GroupOut], **READ_ERRORS}, summary="疑似重复组列表")
@paginated
def group_list(request, status: Literal["pending", "confirmed", "dismissed", "stale"] = "pending"):
    """只列出全部成员都在本人管辖范围内的组。"""
    return selectors.group_list(request.auth, status=status)


@router.get("/duplicate-groups/{group_id}", response={200: GroupOut, **READ_ERRORS}, summary="疑似重复组详情")
def group_detail(request, group_id: int = Path(..., ge=1, le=MAX_ID)):
    return selectors.group_get(request.auth, group_id)


@router.post("/duplicate-groups/{group_id}/confirm", response={200: GroupOut, **WRITE_ERRORS},
             summary="确认合并（经“合并”流转并入主件）")
def group_confirm(request, payload: ConfirmIn, group_id: int = Path(..., ge=1, le=MAX_ID)):
    """全部成功或全部不变：任何一件不能合并（状态、权限）时整组不变。"""
    group = selectors.group_get(request.auth, group_id)
    members = {m.case_id: m.case for m in group.members.select_related("case")}
    if payload.main_case not in members:
        raise DomainError(_("主件须是本组的事项。"), field="main_case")
    cases = None
    if payload.cases is not None:
        if any(pk not in members for pk in payload.cases):
            raise DomainError(_("所选事项不属于本组。"), field="cases")
        cases = [members[pk] for pk in payload.cases]
    services.duplicate_group_confirm(actor=request.auth, group=group, main_case=members[payload.main_case],
                                     cases=cases, reason=payload.reason)
    return selectors.group_get(request.auth, group_id)


@router.post("/duplicate-groups/{group_id}/dismiss", response={200: GroupOut, **WRITE_ERRORS},
             summary="排除（不是同一问题，今后不再提出）")
def group_dismiss(request, payload: DismissIn, group_id: int = Path(..., ge=1, le=MAX_ID)):
    group = selectors.group_get(request.auth, group_id)
    services.duplicate_group_dismiss(actor=request.auth, group=group, reason=payload.reason)
    return selectors.group_get(request.auth, group_id)


@router.get("/hotspots", response={200: list[HotspotOut], **READ_ERRORS}, summary="热点诉求")
def hotspot_list(request, query: Query[HotspotQuery]):
    """同一地区、同一类别在一个周期内集中反映的诉求，按综合热度、件数、增长或群众关注排序。"""
    node = None
    if query.node is not None:
        try:
            node = org_selectors.node_get(request.auth, query.node, Perm.VIEW_CASES)
        except Http404:
            raise NotFound("node") from None
    spots = selectors.hotspots(request.auth, node=node, period=query.period, level=query.level, day=query.day,
                               limit=query.limit, order=query.order)
    return [{**{k: getattr(h, k) for k in ("area_id", "area_name", "category_id", "category_name", "size",
                                             "previous", "growth", "reporters", "reposts", "chases", "open",
                                             "heat")},
             "representatives": h.representatives} for h in spots]




class SuggestIn(InSchema):
    title: str = Field("", max_length=100, description="标题（可空：取描述的第一句）")
    description: str = Field("", max_length=DESCRIPTION_MAX, description="描述")
    node: ObjId | None = Field(None, description="事发地点（网格、微网格或楼栋的节点编号），用于给出承办单位")


class CategoryChoiceOut(Schema):
    code: str
    name: str
    confidence: float = Field(description="校准后的概率（0–1）")
    tier: str = Field(description="该类别的默认分流：public 大事 / community 小事 / private 私事")
    tier_label: str


class UnitOut(Schema):
    kind: str = Field(description="department 承办部门（派遣规则） / community 属地社区（村）")
    id: int
    name: str


class SuggestOut(Schema):
    low_confidence: bool = Field(description="为 true 时系统把握不大，应由人工选择，不要直接采用")
    reason: str = Field(description="低置信度的原因（英文短语，便于排查）")
    model_version: int | None = Field(description="模型版本号；null 表示尚未训练，使用事项目录冷启动模型")
    category: CategoryChoiceOut | None = Field(description="首选类别（低置信度时也给出，仅供参考）")
    alternatives: list[CategoryChoiceOut]
    handling_unit: UnitOut | None = Field(description="按派遣规则，首选类别在该地点的承办单位（仅在给出 node 且置信度足够时）")


def _choice(category: Any, confidence: float) -> dict[str, Any]:
    from jiedao.cases.models import Tier

    return {"code": category.code, "name": category.name, "confidence": round(confidence, 4),
            "tier": category.default_tier, "tier_label": str(Tier(category.default_tier).label)}


@router.post("/suggest", response={200: SuggestOut, **WRITE_ERRORS}, summary="登记时的类别建议")
def suggest(request, payload: SuggestIn):
    """根据标题和描述建议类别（附置信度）、默认分流（三事分流）和承办单位；需要登记事项的权限。

    低置信度（`low_confidence: true`）时请让用户自己选择。服务端耗时远低于 50 毫秒。"""
    user = request.auth
    if not scope.has_perm_anywhere(user, Perm.REPORT_CASES):
        raise PermissionError_(_("您没有登记诉求的权限。"))
    node = None
    if payload.node is not None:
        try:
            node = org_selectors.node_get(user, payload.node, Perm.REPORT_CASES)
        except Http404:
            raise NotFound("node") from None
    found = selectors.suggest_for_intake(payload.title, payload.description, node=node)
    choices = [_choice(c, p) for c, p in found.items]
    return {
        "low_confidence": found.low_confidence,
        "reason": found.reason,
        "model_version": found.version_number,
        "category": choices[0] if choices else None,
        "alternatives": choices[1:],
        "handling_unit": found.unit,
    }
