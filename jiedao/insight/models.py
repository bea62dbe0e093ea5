"""Models of the insight app: classifier versions, duplicate groups and hotspots.

The text engine itself (jiedao.insight.text) needs no database; these models keep what the
platform learns from its own cases. Hotspots are computed on demand (selectors), not stored."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jiedao.core.models import BaseModel


class DuplicateGroup(BaseModel):
    """Open cases of one sub-district that the nightly pass judges to report the same problem,
    proposed to staff who confirm it (merging the members into a main case through the workflow)
    or dismiss it. `org_path` is the members' deepest common org path, so the group is visible
    exactly to those who see every member; `key` is the sorted member ids, which makes the job
    idempotent and lets a dismissal be remembered."""

    scope_path_field = "org_path"

    class Status(models.TextChoices):
        PENDING = "pending", _("待确认")
        CONFIRMED = "confirmed", _("已合并")
        DISMISSED = "dismissed", _("已排除")
        STALE = "stale", _("已失效")

    subdistrict = models.ForeignKey(
        "org.OrgNode", verbose_name=_("所属街道"), on_delete=models.CASCADE, related_name="+"
    )
    org_path = models.CharField(_("组织路径"), max_length=40, db_index=True)
    key = models.CharField(_("成员键"), max_length=400, help_text=_("成员事项编号（内部）排序后以逗号连接"))
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.PENDING)
    score = models.FloatField(_("相似度"), default=0)
    evidence = models.CharField(_("依据"), max_length=300, blank=True)
    main_case = models.ForeignKey(
        "cases.Case", verbose_name=_("主件"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("处理人"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    reason = models.CharField(_("说明"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("疑似重复组")
        verbose_name_plural = _("疑似重复组")
        ordering = ["-score", "-id"]
        indexes = [models.Index(fields=["subdistrict", "status"], name="dupgroup_sub_status_idx")]

    def __str__(self) -> str:
        return f"{self.get_status_display()} {self.key}"


class DuplicateGroupMember(models.Model):
    """One case of a duplicate group, with its best link score to another member."""

    group = models.ForeignKey(DuplicateGroup, verbose_name=_("疑似重复组"), on_delete=models.CASCADE,
                              related_name="members")
    case = models.ForeignKey("cases.Case", verbose_name=_("事项"), on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(_("相似度"), default=0)
    merged = models.BooleanField(_("已并入主件"), default=False)

    class Meta:
        verbose_name = _("疑似重复组成员")
        verbose_name_plural = _("疑似重复组成员")
        ordering = ["group_id", "case_id"]
        constraints = [models.UniqueConstraint(fields=["group", "case"], name="dupgroupmember_unique")]

    def __str__(self) -> str:
        return f"{self.group_id}:{self.case_id}"


# --- end of duplicate groups ---------------------------------------------------------------------


class ClassifierVersion(models.Model):
    """One trained category classifier: the serialized model, what it was trained on, its
    scores on the held-back slice of history, and whether it is the one suggesting now.

    A version is created queued (the "retrain now" button) or straight away (the command and the
    weekly job), trained, scored, and activated only if it scores at least as well as the active
    one on the same slice (jiedao.insight.services). At most one version is active."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        TRAINING = "training", _("训练中")
        READY = "ready", _("已完成")
        FAILED = "failed", _("失败")

    class Kind(models.TextChoices):
        COLD_START = "cold_start", _("冷启动（目录）")
        HISTORY = "history", _("历史事项")

    class Trigger(models.TextChoices):
        MANUAL = "manual", _("页面“立即重新训练”")
        COMMAND = "command", _("命令行")
        SCHEDULE = "schedule", _("每周定时任务")
        AUTO = "auto", _("首次使用自动生成")

    number = models.PositiveIntegerField(_("版本号"), unique=True)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.QUEUED)
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices, blank=True)
    trigger = models.CharField(_("触发方式"), max_length=12, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("发起人"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    is_active = models.BooleanField(_("当前使用"), default=False)
    model_data = models.BinaryField(_("模型数据"), null=True, blank=True, editable=False)
    labels = models.JSONField(_("类别集合"), default=list, blank=True, help_text=_("类别代码"))
    label_names = models.JSONField(_("类别名称"), default=dict, blank=True, help_text=_("训练时的 代码→名称"))
    training_cases = models.PositiveIntegerField(_("训练用事项数"), default=0)
    imported_messages = models.PositiveIntegerField(_("导入留言数"), default=0)
    import_name = models.CharField(_("导入文件"), max_length=200, blank=True)
    catalogue_rows = models.PositiveIntegerField(_("目录样本数"), default=0)
    trained_through_case = models.PositiveBigIntegerField(
        _("训练数据截止事项"), default=0, help_text=_("训练用到的最大事项编号（id）；留出集只取其后的事项")
    )
    holdout_cases = models.PositiveIntegerField(_("留出集事项数"), default=0)
    holdout_from_case = models.PositiveBigIntegerField(_("留出集起始事项"), null=True, blank=True)
    accuracy = models.FloatField(_("准确率"), null=True, blank=True)
    macro_f1 = models.FloatField(_("宏平均 F1"), null=True, blank=True)
    per_category = models.JSONField(
        _("分类别得分"), default=dict, blank=True, help_text=_("代码 → precision, recall, f1, support")
    )
    confusion = models.JSONField(_("混淆表"), default=dict, blank=True, help_text=_("{labels: [...], matrix: [[...]]}"))
    low_confidence_share = models.FloatField(_("低置信度占比"), null=True, blank=True)
    calibration = models.JSONField(
        _("置信度校准"), default=dict, blank=True,
        help_text=_("留出集较早一半拟合、较新一半检验：低置信线、线上线下准确率、可靠性分箱、所用事项范围"),
    )
    compared_with = models.ForeignKey(
        "self", verbose_name=_("对比版本"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    compared_scores = models.JSONField(
        _("对比版本在同一留出集上的得分"), default=dict, blank=True, help_text=_("{accuracy, macro_f1}")
    )
    decision = models.CharField(_("启用结论"), max_length=300, blank=True)
    message = models.CharField(_("说明"), max_length=500, blank=True)
    train_seconds = models.FloatField(_("训练耗时（秒）"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    activated_at = models.DateTimeField(_("启用时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("分类模型版本")
        verbose_name_plural = _("分类模型版本")
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=models.Q(is_active=True),
                                    name="classifierversion_one_active"),
        ]

    def __str__(self) -> str:
        return f"v{self.number}"


class CaseSuggestion(models.Model):
    """What the classifier suggested when a case was registered, and what was chosen then.

    The case's current category is the label staff accepted or corrected, so comparing it with
    `suggested` gives the override rate (jiedao.insight.selectors.override_table)."""

    scope_path_field = "case__org_path"

    case = models.OneToOneField("cases.Case", verbose_name=_("事项"), on_delete=models.CASCADE,
                                related_name="suggestion")
    version = models.ForeignKey(ClassifierVersion, verbose_name=_("模型版本"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="suggestions")
    suggested = models.ForeignKey("cases.Category", verbose_name=_("建议类别"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    confidence = models.FloatField(_("置信度"), default=0)
    low_confidence = models.BooleanField(_("低置信度"), default=False)
    chosen = models.ForeignKey("cases.Category", verbose_name=_("登记时所选类别"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("类别建议记录")
        verbose_name_plural = _("类别建议记录")
        indexes = [models.Index(fields=["suggested", "created_at"], name="casesuggestion_sugg_idx")]

    def __str__(self) -> str:
        return f"{self.case_id} → {self.suggested_id} ({self.confidence:.2f})"


# --- end of the category classifier block ----------------------------------------------------------


class CaseRepeat(models.Model):
    """A case that repeats an earlier request: the same reporter again (the phone's blind index),
    a re-post of the same problem at the same place (the text engine), or the words of a chase
    (又来反映, 再次, 还是没有, 多次反映). `earlier` is the request it repeats when one was found (a
    chase may name none we know). Written by the `repeat_scan` job; hotspots and the 月议 agenda
    count these."""

    scope_path_field = "case__org_path"

    class Reason(models.TextChoices):
        REPORTER = "reporter", _("同一反映人")
        REPOST = "repost", _("同一问题再次发帖")
        CHASE = "chase", _("催问用语")

    case = models.OneToOneField("cases.Case", verbose_name=_("事项"), on_delete=models.CASCADE,
                                related_name="repeat")
    earlier = models.ForeignKey("cases.Case", verbose_name=_("此前的事项"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="repeated_by")
    reasons = models.JSONField(_("判定依据"), default=list, help_text=_("reporter / repost / chase"))
    evidence = models.CharField(_("证据"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("重复反映")
        verbose_name_plural = _("重复反映")

    def __str__(self) -> str:
        return f"{self.case_id} → {self.earlier_id or '—'}"


class RepeatScan(models.Model):
    """How far the `repeat_scan` job has read one sub-district's cases (by id)."""

    subdistrict = models.OneToOneField("org.OrgNode", verbose_name=_("街道"), on_delete=models.CASCADE,
                                       related_name="+")
    last_case_id = models.PositiveBigIntegerField(_("已检查至事项"), default=0)
    scanned_at = models.DateTimeField(_("检查时间"), auto_now=True)

    class Meta:
        verbose_name = _("重复反映检查进度")
        verbose_name_plural = _("重复反映检查进度")

    def __str__(self) -> str:
        return f"{self.subdistrict_id}: {self.last_case_id}"
