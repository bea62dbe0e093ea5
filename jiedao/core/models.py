"""Base model, the hash-chained audit log and API tokens."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class BaseModel(models.Model):
    """Common columns of every domain table: creation and last-change times."""

    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        abstract = True


class TransitionRecord(models.Model):
    """The history row of one workflow step (jiedao.core.workflow.Machine writes it): who did what,
    why and when. A domain's history model adds its foreign key to the row that moved and its own
    `from_state` / `to_state` (with that workflow's choices)."""

    seq = models.PositiveIntegerField(_("序号"))
    action = models.CharField(_("动作"), max_length=20)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    actor_repr = models.CharField(_("操作人名称"), max_length=150)
    reason = models.CharField(_("说明"), max_length=1000, blank=True)
    data = models.JSONField(_("附加信息"), default=dict, blank=True)
    created_at = models.DateTimeField(_("时间"))

    class Meta:
        abstract = True


class AuditChainHead(models.Model):
    """The newest link of one audit chain.

    Appending locks this row, so links are numbered without gaps; keeping the last hash here
    also lets `audit verify` notice rows removed from the end of the chain.
    """

    chain = models.CharField(_("链"), max_length=32, primary_key=True)
    last_seq = models.BigIntegerField(_("最后序号"), default=0)
    last_hash = models.CharField(_("最后哈希"), max_length=64, default="")

    class Meta:
        verbose_name = _("审计链头")
        verbose_name_plural = _("审计链头")

    def __str__(self) -> str:
        return f"{self.chain}#{self.last_seq}"


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise RuntimeError(gettext("审计日志只允许追加，不能修改。"))

    def delete(self):
        raise RuntimeError(gettext("审计日志只允许追加，不能删除。"))


class AuditEvent(models.Model):
    """One recorded write: who did what to which object, before and after, when, from where.

    Rows are append-only (database triggers refuse UPDATE and DELETE, jiedao.core.audit_guard)
    and chained: `hash` = HMAC-SM3(audit key, previous hash + canonical content), so altering,
    forging or removing any row breaks the chain at that row (see core.audit.verify_chain).
    """

    chain = models.CharField(_("链"), max_length=32, default="main")
    seq = models.BigIntegerField(_("序号"))
    created_at = models.DateTimeField(_("时间"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        # never SET_NULL: the audit rows are append-only (database triggers) and actor_id is hashed
        on_delete=models.DO_NOTHING,
    )
    actor_repr = models.CharField(_("操作人名称"), max_length=150, blank=True)
    action = models.CharField(_("动作"), max_length=64, db_index=True)
    object_type = models.CharField(_("对象类型"), max_length=64, blank=True)
    object_id = models.CharField(_("对象编号"), max_length=64, blank=True)
    object_repr = models.CharField(_("对象名称"), max_length=200, blank=True)
    before = models.JSONField(_("修改前"), null=True, blank=True)
    after = models.JSONField(_("修改后"), null=True, blank=True)
    reason = models.CharField(_("事由"), max_length=500, blank=True)
    request_id = models.CharField(_("请求编号"), max_length=64, blank=True)
    ip_address = models.CharField(_("来源地址"), max_length=64, blank=True)
    user_agent = models.CharField(_("客户端"), max_length=200, blank=True)
    prev_hash = models.CharField(_("前一哈希"), max_length=64)
    hash = models.CharField(_("哈希"), max_length=64)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("审计事件")
        verbose_name_plural = _("审计事件")
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="audit_chain_seq_unique")]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError(gettext("审计日志只允许追加，不能修改。"))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError(gettext("审计日志只允许追加，不能删除。"))


class ApiToken(BaseModel):
    """A personal API token: the plaintext is shown once, only its SHA-256 digest is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("用途"), max_length=100)
    prefix = models.CharField(_("前缀"), max_length=12)
    key_hash = models.CharField(_("摘要"), max_length=64, unique=True)
    expires_at = models.DateTimeField(_("过期时间"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("API 令牌")
        verbose_name_plural = _("API 令牌")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class ImportJob(BaseModel):
    """One spreadsheet import into a register: uploaded, validated (preview), then committed.

    The uploaded file stays in the data directory, encrypted, until the job is finished, so a page
    reload or a restart loses nothing; row errors are kept in a JSON-lines file beside it and
    progress in a small file that other processes can read while the import's transaction is open
    (jiedao.core.imports: what is kept, how, and for how long).
    """

    class Mode(models.TextChoices):
        ALL_OR_NOTHING = "all_or_nothing", _("全部成功才导入")
        GOOD_ONLY = "good_only", _("只导入正确的行")

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("已上传")
        VALIDATING = "validating", _("校验中")
        VALIDATED = "validated", _("已校验")
        COMMITTING = "committing", _("导入中")
        COMMITTED = "committed", _("已导入")
        FAILED = "failed", _("失败")
        CANCELLED = "cancelled", _("已取消")

    register = models.CharField(_("登记簿"), max_length=32)
    original_name = models.CharField(_("文件名"), max_length=200)
    stored_name = models.CharField(_("存储文件"), max_length=200)
    size = models.BigIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("摘要"), max_length=64)
    mode = models.CharField(_("导入方式"), max_length=16, choices=Mode.choices, default=Mode.ALL_OR_NOTHING)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.UPLOADED)
    total_rows = models.PositiveIntegerField(_("数据行数"), default=0)
    good_rows = models.PositiveIntegerField(_("正确行数"), default=0)
    bad_rows = models.PositiveIntegerField(_("错误行数"), default=0)
    created_rows = models.PositiveIntegerField(_("新增"), default=0)
    updated_rows = models.PositiveIntegerField(_("更新"), default=0)
    notices = models.JSONField(_("提示"), default=list, blank=True)
    message = models.CharField(_("结果说明"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("上传人"), on_delete=models.PROTECT, related_name="import_jobs"
    )
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("导入作业")
        verbose_name_plural = _("导入作业")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.original_name}"


class ExportJob(BaseModel):
    """One export of a filtered list (residents, businesses, households, cases) to xlsx, written in
    the background: queued → running → done (or failed), then expired once its file is deleted.

    The requester alone sees the job and downloads its file; the rows are chosen with the
    requester's scope when the job runs, which is seconds after the request. The file is a vault
    file in `$JIEDAO_DATA_DIR/exports/` (encrypted, 0600), deleted by the retention job
    (jiedao.core.exports: what is kept and for how long).
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("导出中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")
        EXPIRED = "expired", _("已过期")

    register = models.CharField(_("登记簿"), max_length=32)
    title = models.CharField(_("名称"), max_length=64)
    filters = models.JSONField(_("筛选条件"), default=dict, blank=True)
    audit_filters = models.JSONField(_("审计用筛选条件"), default=dict, blank=True)
    reveal = models.BooleanField(_("导出明文"), default=False)
    reason = models.CharField(_("事由"), max_length=500, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(_("总行数"), default=0)
    done_rows = models.PositiveIntegerField(_("已写行数"), default=0)
    size = models.BigIntegerField(_("文件大小（字节）"), default=0)
    stored_name = models.CharField(_("存储文件"), max_length=64, blank=True)
    file_name = models.CharField(_("下载文件名"), max_length=120, blank=True)
    message = models.CharField(_("结果说明"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("申请人"), on_delete=models.PROTECT, related_name="export_jobs"
    )
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    downloaded_at = models.DateTimeField(_("首次下载时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("导出作业")
        verbose_name_plural = _("导出作业")
        ordering = ["-id"]
        indexes = [models.Index(fields=["created_by", "-id"], name="core_export_owner_idx"),
                   models.Index(fields=["status", "created_at"], name="core_export_status_idx")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(99, self.done_rows * 100 // self.total_rows) if self.total_rows else 0


class WorkdayOverride(BaseModel):
    """An administrator's ruling on one date: a holiday or a make-up workday (调休).

    It overrides the `chinese-calendar` package, and is the only source for years the package
    does not know yet (the State Council announces next year's schedule each November)."""

    date = models.DateField(_("日期"), unique=True)
    is_workday = models.BooleanField(_("是否工作日"))
    name = models.CharField(_("名称"), max_length=32, blank=True, help_text=_("如“国庆节”“调休上班”"))

    class Meta:
        verbose_name = _("节假日调整")
        verbose_name_plural = _("节假日调整")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'上班' if self.is_workday else '休息'} {self.name}"


class WorkdayYear(BaseModel):
    """An administrator's declaration that a year's holiday table (WorkdayOverride rows) is
    complete. Until then, deadlines in a year the `chinese-calendar` package does not know are
    estimates and say so (Case.deadline_estimated)."""

    year = models.PositiveSmallIntegerField(_("年度"), unique=True)
    declared_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("确认人"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("节假日年度确认")
        verbose_name_plural = _("节假日年度确认")
        ordering = ["year"]

    def __str__(self) -> str:
        return f"{self.year}"


class JobRun(models.Model):
    """The last run of a scheduled job. Claiming a run is a compare-and-set on `next_run_at`,
    so several app processes sharing a database never run the same job twice. With a queue
    (jiedao.core.queue) the claim also sets `queued_at`, and the worker starts the run only by
    clearing it (a second compare-and-set), so a message delivered twice still runs once."""

    name = models.CharField(_("任务"), max_length=64, primary_key=True)
    next_run_at = models.DateTimeField(_("下次运行"))
    last_started_at = models.DateTimeField(_("最近开始"), null=True, blank=True)
    queued_at = models.DateTimeField(_("排队时间"), null=True, blank=True)
    last_finished_at = models.DateTimeField(_("最近完成"), null=True, blank=True)
    last_result = models.CharField(_("最近结果"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("定时任务")
        verbose_name_plural = _("定时任务")

    def __str__(self) -> str:
        return self.name


class CacheGeneration(models.Model):
    """A counter that says when the per-process caches of jiedao.core.caching went stale.

    Every service that changes API tokens, users, role assignments, org nodes, departments or the
    case catalogue adds one in its own transaction; each process compares it, once per request,
    with the generation its cached rows were read at and drops them when it has moved.
    """

    name = models.CharField(_("名称"), max_length=32, primary_key=True)
    value = models.BigIntegerField(_("代数"), default=0)

    class Meta:
        verbose_name = _("缓存代数")
        verbose_name_plural = _("缓存代数")

    def __str__(self) -> str:
        return f"{self.name}#{self.value}"


class RateCounter(models.Model):
    """One fixed-window counter of jiedao.core.limits: how often `key` was used since the window
    began; `expires` (Unix seconds) ends the window. Shared by every process and server, counted
    with one atomic upsert (INSERT … ON CONFLICT DO UPDATE … RETURNING)."""

    key = models.CharField(max_length=200, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    expires = models.FloatField(db_index=True)

    class Meta:
        verbose_name = _("频率计数")
        verbose_name_plural = _("频率计数")

    def __str__(self) -> str:
        return f"{self.key}={self.count}"
