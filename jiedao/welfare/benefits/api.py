"""REST endpoints of benefits and subsidies (mounted under /api/v1/welfare/benefits): the
programme catalogue, grants and their actions, payments, the due-review list, the totals and the
workflow table, and the civil-affairs xlsx import as a core import job (upload, poll, errors,
commit), as the page /welfare/benefits/import/ runs it.

Reads go through jiedao.welfare.benefits.selectors (scoped by jiedao.core.scope), writes through
jiedao.welfare.benefits.services; an object outside the caller's scope answers 404 exactly like a
missing one. Residents show by name and masked ID number only.
"""

import io
from datetime import date
from decimal import Decimal
from typing import Any

from django.http import FileResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Query, Router, Schema, UploadedFile
from ninja.responses import Status

from jiedao.core import filevault, imports, scope, tasks
from jiedao.core.api import READ_ERRORS, WRITE_ERRORS, ErrorOut, InSchema, ObjId, id_path, paginated, ref_or_404
from jiedao.core.errors import ConflictError, DomainError, PermissionError_
from jiedao.core.models import ImportJob
from jiedao.core.permissions import Perm
from jiedao.core.tabular import TabularError
from jiedao.org import selectors as org_selectors
from jiedao.org.api import PatchSchema
from jiedao.people import selectors as people_selectors
from jiedao.people.api import XLSX, XLSX_DOC, ImportErrorOut, ImportJobOut
from jiedao.people.exporting import ImportErrorLines
from jiedao.welfare.benefits import importer, selectors, services, workflow
from jiedao.welfare.benefits.workflow import GrantAction
from jiedao.welfare.models.benefits import GrantState, GrantUnit, Headline, PayPeriod

router = Router(tags=["救助补贴"])


def _viewer(request: Any) -> Any:
    if not scope.has_perm_anywhere(request.auth, Perm.VIEW_WELFARE):
        raise PermissionError_()
    return request.auth


def _programme(actor: Any, pk: Any) -> Any:
    return selectors.programme_get(pk)


# --- schemas ------------------------------------------------------------------------------------


class ProgrammeOut(Schema):
    id: int
    code: str
    name: str
    unit: str = Field(description="person 按人 / household 按户")
    period: str = Field(description="monthly 按月 / yearly 按年 / one_off 一次性")
    review_months: int | None = Field(description="复核周期（月），空为不需复核")
    default_amount: Decimal | None = Field(description="标准金额（元）")
    amount_rule: str
    headline: str = Field(description="统计口径：person_times 人次与人均补差 / households 户数与金额 / persons 人数与金额")
    sort_order: int
    is_active: bool


class ProgrammeIn(InSchema):
    code: str
    name: str
    unit: GrantUnit = GrantUnit.PERSON
    period: PayPeriod = PayPeriod.MONTHLY
    review_months: int | None = None
    default_amount: Decimal | None = None
    amount_rule: str = ""
    headline: Headline = Headline.PERSONS
    sort_order: int = 100
    is_active: bool = True


class ProgrammePatch(PatchSchema):
    code: str = None
    name: str = None
    unit: GrantUnit = None
    period: PayPeriod = None
    review_months: int | None = None
    default_amount: Decimal | None = None
    amount_rule: str = None
    headline: Headline = None
    sort_order: int = None
    is_active: bool = None


class GrantOut(Schema):
    id: int
    programme_id: int
    programme_name: str
    resident_id: int
    resident_name: str
    id_number_masked: str = Field(description="身份证号（掩码）")
    household_id: int | None
    community_id: int | None
    community_name: str
    starts_on: date
    ends_on: date | None
    amount: Decimal = Field(description="每期金额（元）")
    persons: int
    next_review_on: date | None
    reviewed_on: date | None
    state: str = Field(description="active 在保 / suspended 暂停 / ended 停发/退出")
    state_label: str
    notes: str

    @staticmethod
    def resolve_programme_name(obj) -> str:
        return obj.programme.name

    @staticmethod
    def resolve_resident_name(obj) -> str:
        return obj.resident.name

    @staticmethod
    def resolve_id_number_masked(obj) -> str:
        return obj.resident.id_number_masked

    @staticmethod
    def resolve_community_name(obj) -> str:
        return obj.community.name if obj.community_id else ""

    @staticmethod
    def resolve_state_label(obj) -> str:
        return str(GrantState(obj.state).label)


class GrantStepOut(Schema):
    seq: int
    action: str
    from_state: str
    to_state: str
    actor: str = Field(alias="actor_repr")
    reason: str
    created_at: Any


class GrantDetailOut(GrantOut):
    steps: list[GrantStepOut]
    actions: list[str] = Field(description="您现在可以执行的动作")


class GrantIn(InSchema):
    programme: ObjId
    resident: ObjId
    starts_on: date
    ends_on: date | None = None
    amount: Decimal | None = Field(None, description="每期金额（元）；不填按项目标准")
    persons: int = 1
    next_review_on: date | None = None
    notes: str = ""


class GrantPatch(PatchSchema):
    starts_on: date = None
    amount: Decimal = None
    persons: int = None
    ends_on: date | None = None
    next_review_on: date | None = None
    notes: str = None


class GrantActionIn(InSchema):
    action: GrantAction
    reason: str = ""
    next_review_on: date | None = Field(None, description="复核时的下次复核日期；不填按复核周期顺延")


class PaymentOut(Schema):
    id: int
    grant_id: int
    programme_id: int
    programme_name: str
    resident_id: int
    resident_name: str
    id_number_masked: str
    community_id: int | None
    month: date = Field(description="发放月份（该月 1 日）")
    amount: Decimal
    persons: int
    source: str

    @staticmethod
    def resolve_programme_name(obj) -> str:
        return obj.programme.name

    @staticmethod
    def resolve_resident_name(obj) -> str:
        return obj.resident.name

    @staticmethod
    def resolve_id_number_masked(obj) -> str:
        return obj.resident.id_number_masked


class PaymentIn(InSchema):
    month: date = Field(description="发放月份（任一日期，按所在月）")
    amount: Decimal | None = None
    persons: int | None = None


class TotalOut(Schema):
    programme_id: int
    programme_name: str
    period: date
    period_label: str
    community_id: int | None = Field(description="空为全部社区的合计行")
    community_name: str
    person_times: int = Field(description="人次 = 保障人数之和")
    persons: int = Field(description="人数（不同对象）")
    households: int = Field(description="户数（不同户）")
    amount: Decimal = Field(description="发放金额（元）")
    per_capita: Decimal | None = Field(description="人均补差 = 金额 ÷ 人次")
    headline: str = Field(description="报告口径的一句话")


class GrantFilters(Schema):
    programme: ObjId | None = None
    state: GrantState | None = None
    community: ObjId | None = None
    q: str = Field("", max_length=40)


class PaymentFilters(Schema):
    programme: ObjId | None = None
    community: ObjId | None = None
    grant: ObjId | None = None
    start: date | None = None
    end: date | None = None


class TotalsQuery(Schema):
    node: ObjId | None = Field(None, description="只统计该节点（社区、网格）以下")
    start: date | None = None
    end: date | None = None
    granularity: str = Field("year", pattern="^(month|quarter|year)$")
    programme: ObjId | None = None
    community: ObjId | None = None


# --- programmes ---------------------------------------------------------------------------------


@router.get("/programmes", response={200: list[ProgrammeOut], **READ_ERRORS}, summary="救助补贴项目")
@paginated
def programme_list(request):
    _viewer(request)
    return selectors.programmes()


@router.post("/programmes", response={201: ProgrammeOut, **WRITE_ERRORS}, summary="新增项目")
def programme_create(request, payload: ProgrammeIn):
    return Status(201, services.programme_create(actor=request.auth, **payload.model_dump()))


@router.patch("/programmes/{programme_id}", response={200: ProgrammeOut, **WRITE_ERRORS}, summary="修改项目")
def programme_update(request, payload: ProgrammePatch, programme_id: int = id_path("项目编号")):
    _viewer(request)
    programme = selectors.programme_get(programme_id)
    return services.programme_update(actor=request.auth, programme=programme, **payload.changes())


# --- grants -------------------------------------------------------------------------------------


def _detail(request: Any, grant: Any) -> Any:
    kinds = services.grant_actor_kinds(request.auth, grant)
    grant.steps = list(selectors.grant_steps(grant))
    grant.actions = [str(a) for a in workflow.allowed_actions(grant.state, kinds, current=grant, actor=request.auth)]
    return grant


@router.get("/grants", response={200: list[GrantOut], **READ_ERRORS}, summary="救助补贴资格")
@paginated
def grant_list(request, filters: Query[GrantFilters]):
    return selectors.grant_list(request.auth, programme=filters.programme, state=filters.state or "",
                                community=filters.community, q=filters.q.strip())


@router.get("/reviews-due", response={200: list[GrantOut], **READ_ERRORS}, summary="待复核（默认 30 天内）")
@paginated
def reviews_due(request, within: int = Query(30, ge=0, le=366)):
    return selectors.grant_list(request.auth, due_within=within, today=timezone.localdate())


@router.post("/grants", response={201: GrantDetailOut, **WRITE_ERRORS}, summary="登记救助补贴资格")
def grant_create(request, payload: GrantIn):
    data = payload.model_dump()
    resident = ref_or_404(selectors.resident_visible, request.auth, data.pop("resident"), "resident")
    programme = ref_or_404(_programme, request.auth, data.pop("programme"), "programme")
    grant = services.grant_create(actor=request.auth, programme=programme, resident=resident, **data)
    return Status(201, _detail(request, selectors.grant_get(request.auth, grant.pk)))


@router.get("/grants/{grant_id}", response={200: GrantDetailOut, **READ_ERRORS}, summary="资格详情与变动记录")
def grant_detail(request, grant_id: int = id_path("资格编号")):
    return _detail(request, selectors.grant_get(request.auth, grant_id))


@router.patch("/grants/{grant_id}", response={200: GrantDetailOut, **WRITE_ERRORS}, summary="修改资格")
def grant_update(request, payload: GrantPatch, grant_id: int = id_path("资格编号")):
    grant = selectors.grant_get(request.auth, grant_id)
    services.grant_update(actor=request.auth, grant=grant, **payload.changes())
    return _detail(request, selectors.grant_get(request.auth, grant_id))


@router.post("/grants/{grant_id}/actions", response={200: GrantDetailOut, **WRITE_ERRORS},
             summary="暂停、恢复、停发/退出、复核")
def grant_act(request, payload: GrantActionIn, grant_id: int = id_path("资格编号")):
    grant = selectors.grant_get(request.auth, grant_id)
    services.grant_act(actor=request.auth, grant=grant, action=payload.action, reason=payload.reason,
                       next_review_on=payload.next_review_on)
    return _detail(request, selectors.grant_get(request.auth, grant_id))


@router.get("/workflow", response={200: list[dict], **READ_ERRORS}, summary="资格变动表")
def workflow_table(request):
    return [{**row, "action_label": str(row["action_label"])} for row in workflow.table_rows()]


# --- payments -----------------------------------------------------------------------------------


@router.get("/payments", response={200: list[PaymentOut], **READ_ERRORS}, summary="发放记录")
@paginated
def payment_list(request, filters: Query[PaymentFilters]):
    return selectors.payment_list(request.auth, programme=filters.programme, community=filters.community,
                                  grant=filters.grant, start=filters.start, end=filters.end)


@router.post("/grants/{grant_id}/payments", response={201: PaymentOut, **WRITE_ERRORS},
             summary="登记（或更正）一个月的发放")
def payment_record(request, payload: PaymentIn, grant_id: int = id_path("资格编号")):
    grant = selectors.grant_get(request.auth, grant_id)
    payment = services.payment_record(actor=request.auth, grant=grant, **payload.model_dump())
    return Status(201, selectors.payments_visible(request.auth).get(pk=payment.pk))


# --- totals -------------------------------------------------------------------------------------


@router.get("/totals", response={200: list[TotalOut], **READ_ERRORS}, summary="发放统计：项目 × 期间 × 社区")
def totals(request, query: Query[TotalsQuery]):
    """人次 = 保障人数之和；人均补差 = 金额 ÷ 人次；人数、户数为不同对象、不同户（docs/figures.md）。"""
    _viewer(request)
    node = ref_or_404(lambda user, pk: org_selectors.node_get(user, pk, Perm.VIEW_WELFARE), request.auth, query.node,
                      "node")
    today = timezone.localdate()
    start = query.start or today.replace(month=1, day=1)
    end = query.end or today
    out = []
    for row in selectors.totals(request.auth, start=start, end=end, granularity=query.granularity,
                                programme=query.programme, community=query.community, node=node):
        for item in (row, *row.details):
            out.append({"programme_id": row.programme.pk, "programme_name": row.programme.name, "period": row.period,
                        "period_label": row.period_label, "community_id": item.community_id,
                        "community_name": item.community, "person_times": item.person_times,
                        "persons": item.persons, "households": item.households, "amount": item.amount,
                        "per_capita": item.per_capita, "headline": item.headline})
    return out


# --- the civil-affairs payment list import ------------------------------------------------------

FILE_ERRORS: dict[int, Any] = {**READ_ERRORS, 400: ErrorOut, 403: ErrorOut, 409: ErrorOut}


def _file(data: bytes, filename: str) -> FileResponse:
    response = FileResponse(io.BytesIO(data), as_attachment=True, filename=filename, content_type=XLSX)
    response["Cache-Control"] = "no-store"
    return response


def _jobs(user: Any) -> Any:
    return people_selectors.import_jobs(user, (importer.KEY,))  # private to the uploader


def _job(request: Any, job_id: int) -> ImportJob:
    """The caller's own job (another's answers 404), a job whose process died marked so."""
    job = people_selectors.import_job_get(request.auth, job_id, (importer.KEY,))
    if imports.is_stale(job):
        job = imports.import_mark_interrupted(job)
    return job


@router.get("/imports/template", response=FILE_ERRORS, openapi_extra=XLSX_DOC, summary="下载民政发放表导入模板")
def import_template(request):
    """表头：序号、姓名*、身份证号*、救助类别*、发放月份*、保障人数、发放金额(元)*、所属社区、备注；一行示例和填写说明。"""
    _viewer(request)
    return _file(imports.template_xlsx(imports.get_spec(importer.KEY)), _("民政发放表导入模板.xlsx"))


@router.get("/imports", response={200: list[ImportJobOut], **READ_ERRORS}, summary="我的发放表导入作业", by_alias=True)
@paginated
def import_list(request):
    return _jobs(request.auth)


@router.post("/imports", response={201: ImportJobOut, 413: ErrorOut, 429: ErrorOut, **WRITE_ERRORS},
             summary="上传并校验民政发放表", by_alias=True)
def import_upload(
    request,
    mode: ImportJob.Mode = Form(ImportJob.Mode.ALL_OR_NOTHING, description="导入方式"),
    file: UploadedFile = File(..., description=".xlsx 或 .csv（UTF-8 或 GBK）文件，单个不超过 200 MB"),
):
    """multipart/form-data 上传。校验在后台进行（不写入任何数据）：轮询 GET /imports/{id} 看进度，
    GET /imports/{id}/errors 看每一个错误行和列（证件号只显示掩码），确认后 POST /imports/{id}/commit 提交。
    需要民政经办权限；每一行的对象还要在上传人的管辖范围内。"""
    if not scope.has_perm_anywhere(request.auth, Perm.MANAGE_WELFARE):
        raise PermissionError_()
    job = imports.import_upload(actor=request.auth, register_key=importer.KEY, uploaded=file, mode=mode)
    tasks.submit_isolated("jiedao.core.imports.import_validate_by_id", job.pk,
                          on_crash="jiedao.core.imports.import_validate_crashed")
    job.refresh_from_db()
    return Status(201, job)


@router.get("/imports/{job_id}", response={200: ImportJobOut, **READ_ERRORS}, summary="导入作业状态与结果",
            by_alias=True)
def import_detail(request, job_id: int = id_path("导入作业编号")):
    """只有上传人（和超级管理员）能看到自己的作业。"""
    return _job(request, job_id)


@router.get("/imports/{job_id}/errors", response={200: list[ImportErrorOut], **READ_ERRORS},
            summary="导入文件的错误行")
@paginated
def import_errors(request, job_id: int = id_path("导入作业编号")):
    return ImportErrorLines(_job(request, job_id))


@router.get("/imports/{job_id}/bad-rows", response=FILE_ERRORS, openapi_extra=XLSX_DOC, summary="下载错误行（xlsx）")
def import_bad_rows(request, job_id: int = id_path("导入作业编号")):
    job = _job(request, job_id)
    if job.status not in (ImportJob.Status.VALIDATED, ImportJob.Status.COMMITTED):
        raise ConflictError(_("该导入作业还没有校验结果（状态：%(status)s）。") % {"status": job.get_status_display()},
                            field="status")
    try:
        data = imports.bad_rows_xlsx(job, actor=request.auth)
    except (OSError, TabularError, filevault.VaultError):
        raise ConflictError(_("原上传文件已无法读取，请重新上传。"), field="file") from None
    return _file(data, f"{job.pk}-错误行.xlsx")


@router.post("/imports/{job_id}/commit", response={202: ImportJobOut, 429: ErrorOut, **WRITE_ERRORS},
             summary="提交导入", by_alias=True)
def import_commit(request, job_id: int = id_path("导入作业编号")):
    """在一个事务中写入：“全部成功才导入”方式下有错误行就不能提交；“只导入正确的行”方式跳过错误行。
    导入在后台进行，轮询 GET /imports/{id} 看结果。"""
    job = _job(request, job_id)
    if job.status != ImportJob.Status.VALIDATED:
        raise ConflictError(_("该导入作业当前不能提交（状态：%(status)s）。") % {"status": job.get_status_display()},
                            field="status")
    if job.mode == ImportJob.Mode.ALL_OR_NOTHING and job.bad_rows:
        raise DomainError(
            _("文件中有 %(count)s 行错误，“全部成功才导入”方式下不能提交：请改正后重新上传，或改用“只导入正确的行”方式上传。")
            % {"count": job.bad_rows}, field="mode")
    imports.import_check(actor=request.auth, register_key=job.register)
    tasks.submit("jiedao.core.imports.import_commit_by_id", job.pk, request.auth.pk)
    job.refresh_from_db()
    return Status(202, job)


@router.post("/imports/{job_id}/cancel", response={200: ImportJobOut, **WRITE_ERRORS}, summary="取消导入",
             by_alias=True)
def import_cancel(request, job_id: int = id_path("导入作业编号")):
    """取消一个等待中（已上传或已校验）的导入作业：上传的文件和校验结果立即删除。"""
    job = _job(request, job_id)
    try:
        return imports.import_cancel(actor=request.auth, job=job)
    except DomainError as exc:
        raise ConflictError(exc.message, field="status") from None
