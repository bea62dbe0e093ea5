"""REST endpoints of the insight app (mounted under /api/v1/insight): category suggestion at
intake, for callers who may report cases (Perm.REPORT_CASES somewhere; the optional place must
be in that scope, else 404 like a missing one)."""

from typing import Annotated, Any

from django.http import Http404
from ninja import Field, Router, Schema

from jiedao.core import scope
from jiedao.core.api import MAX_ID, WRITE_ERRORS, InSchema, NotFound
from jiedao.core.errors import PermissionError_
from jiedao.core.permissions import Perm
from jiedao.insight import selectors
from jiedao.org import selectors as org_selectors

router = Router(tags=["文本研判"])
ObjId = Annotated[int, Field(ge=1, le=MAX_ID)]


class SuggestIn(InSchema):
    title: str = Field("", max_length=100, description="标题（可空：取描述的第一句）")
    description: str = Field("", max_length=4000, description="描述")
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
        raise PermissionError_("您没有登记诉求的权限。")
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
