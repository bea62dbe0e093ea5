"""信访: petitions received by visit, letter, online or hotline; their acceptance and conclusion
time limits under 《信访工作条例》 (2022), repeat-petition detection, the repeat-petition 销号
campaign (体检会诊, plan, 销号) and the follow-up of 重点信访人员. API under /api/v1/petitions/.

Time limits are in calendar days (the 条例 says 日, not 工作日; docs/petitions-workflow.md):
受理 decided within 15 days of receipt, 办结 within 60 days counted from the day after acceptance,
an extension of at most 30 days, 复查/复核 asked within 30 days of the reply/decision and decided
within 30. Every table reaches an org path for jiedao.core.scope.

A petitioner not in the residents register keeps the ID number and phone sealed
(jiedao.core.sealed: SM4 ciphertext, blind index, mask) exactly as people.Resident does.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jiedao.core.models import BaseModel, TransitionRecord
from jiedao.org.models import Department, OrgNode
from jiedao.people.models import Resident


class Channel(models.TextChoices):
    VISIT = "visit", _("来访")
    LETTER = "letter", _("来信")
    ONLINE = "online", _("网上信访")
    HOTLINE = "hotline", _("热线")


class PetitionCategory(models.TextChoices):
    CONSTRUCTION = "construction", _("城乡建设")
    LABOUR = "labour", _("劳动社保")
    LAND = "land", _("自然资源")
    RURAL = "rural", _("农村农业")
    SECURITY = "security", _("政法")
    HEALTH = "health", _("卫生健康")
    EDUCATION = "education", _("教育")
    ENVIRONMENT = "environment", _("生态环境")
    DISCIPLINE = "discipline", _("涉纪")
    OTHER = "other", _("其他")


class PetitionState(models.TextChoices):
    REGISTERED = "registered", _("已登记")
    REJECTED = "rejected", _("不予受理")
    HANDLING = "handling", _("办理中")
    REPLIED = "replied", _("已答复")
    REVIEWING = "reviewing", _("复查中")
    REVIEWED = "reviewed", _("已复查")
    RECHECKING = "rechecking", _("复核中")
    CLOSED = "closed", _("已终结")


class Petitioner(BaseModel):
    """A petitioner (信访人): a resident of the register when known (`resident`), else a record of
    its own with the name and the ID number and phone sealed and masked as people.Resident does.
    `node` is where the petitioner was registered (scope); `is_key` marks a 重点信访人员."""

    scope_path_field = "node__path"
    audit_exclude = ("id_number_enc", "id_number_bidx", "phone_enc", "phone_bidx")

    node = models.ForeignKey(OrgNode, verbose_name=_("登记节点"), on_delete=models.PROTECT, related_name="+")
    subdistrict = models.ForeignKey(OrgNode, verbose_name=_("所属街道"), on_delete=models.PROTECT, related_name="+")
    resident = models.ForeignKey(Resident, verbose_name=_("居民"), null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    name = models.CharField(_("姓名"), max_length=64)
    id_number_enc = models.TextField(_("身份证号（密文）"), blank=True)
    id_number_bidx = models.CharField(_("身份证号索引"), max_length=64, blank=True, db_index=True)
    id_number_masked = models.CharField(_("身份证号"), max_length=24, blank=True)
    phone_enc = models.TextField(_("电话（密文）"), blank=True)
    phone_bidx = models.CharField(_("电话索引"), max_length=64, blank=True, db_index=True)
    phone_masked = models.CharField(_("联系电话"), max_length=24, blank=True)
    is_key = models.BooleanField(_("重点信访人员"), default=False)

    class Meta:
        verbose_name = _("信访人")
        verbose_name_plural = _("信访人")
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["resident"], condition=models.Q(resident__isnull=False),
                                    name="petitioner_resident_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class Petition(BaseModel):
    """One petition (信访件): channel, date received, petitioners, the matter and its place, the
    responsible unit and every time limit of the 条例, and its state in the petition workflow
    (jiedao.petitions.workflow; only services.petition_act changes `state`)."""

    scope_path_field = "node__path"

    code = models.CharField(_("信访编号"), max_length=24, unique=True)
    node = models.ForeignKey(OrgNode, verbose_name=_("事项发生地"), on_delete=models.PROTECT, related_name="+")
    subdistrict = models.ForeignKey(OrgNode, verbose_name=_("所属街道"), on_delete=models.PROTECT, related_name="+")
    community = models.ForeignKey(OrgNode, verbose_name=_("所属社区（村）"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(_("信访形式"), max_length=12, choices=Channel.choices)
    received_on = models.DateField(_("收到日期"))
    petitioners = models.ManyToManyField(Petitioner, verbose_name=_("信访人"), related_name="petitions")
    is_group = models.BooleanField(_("集体访"), default=False)
    people_count = models.PositiveIntegerField(_("人数"), default=1)
    category = models.CharField(_("问题类别"), max_length=16, choices=PetitionCategory.choices)
    title = models.CharField(_("事项摘要"), max_length=100)
    content = models.TextField(_("信访事项"), max_length=4000)
    demands = models.CharField(_("诉求"), max_length=500, blank=True)
    department = models.ForeignKey(Department, verbose_name=_("责任部门"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    unit_node = models.ForeignKey(OrgNode, verbose_name=_("责任社区（村）"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    accept_due = models.DateField(_("受理告知期限"))
    decided_on = models.DateField(_("受理决定日期"), null=True, blank=True)
    conclude_due = models.DateField(_("办结期限"), null=True, blank=True)
    extended_days = models.PositiveSmallIntegerField(_("延期天数"), default=0)
    extension_reason = models.CharField(_("延期理由"), max_length=500, blank=True)
    replied_on = models.DateField(_("答复日期"), null=True, blank=True)
    reply = models.CharField(_("处理意见"), max_length=2000, blank=True)
    review_until = models.DateField(_("可申请复查至"), null=True, blank=True)
    review_requested_on = models.DateField(_("申请复查日期"), null=True, blank=True)
    review_due = models.DateField(_("复查期限"), null=True, blank=True)
    reviewed_on = models.DateField(_("复查意见日期"), null=True, blank=True)
    recheck_until = models.DateField(_("可申请复核至"), null=True, blank=True)
    recheck_requested_on = models.DateField(_("申请复核日期"), null=True, blank=True)
    recheck_due = models.DateField(_("复核期限"), null=True, blank=True)
    rechecked_on = models.DateField(_("复核意见日期"), null=True, blank=True)
    closed_on = models.DateField(_("终结日期"), null=True, blank=True)
    case = models.ForeignKey("cases.Case", verbose_name=_("关联事项"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    joint_proposed_at = models.DateTimeField(_("提请联席会议时间"), null=True, blank=True)
    matter = models.ForeignKey("RepeatedMatter", verbose_name=_("重复信访事项"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="petitions")
    is_repeat = models.BooleanField(_("重复信访"), default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(_("状态"), max_length=12, choices=PetitionState.choices,
                             default=PetitionState.REGISTERED)
    version = models.PositiveIntegerField(_("版本"), default=0)

    class Meta:
        verbose_name = _("信访件")
        verbose_name_plural = _("信访件")
        ordering = ["-received_on", "-pk"]
        indexes = [
            models.Index(fields=["subdistrict", "received_on"], name="petition_sub_received_idx"),
            models.Index(fields=["state", "accept_due"], name="petition_state_accept_idx"),
            models.Index(fields=["state", "conclude_due"], name="petition_state_conclude_idx"),
        ]

    def __str__(self) -> str:
        return self.code

    def overdue_flags(self, today) -> list[str]:
        """Which time limits are past without the step being done (keys of OVERDUE_LABELS)."""
        flags = []
        if self.state == PetitionState.REGISTERED and self.accept_due < today:
            flags.append("accept")
        if self.state == PetitionState.HANDLING and self.conclude_due and self.conclude_due < today:
            flags.append("conclude")
        if self.state == PetitionState.REVIEWING and self.review_due and self.review_due < today:
            flags.append("review")
        if self.state == PetitionState.RECHECKING and self.recheck_due and self.recheck_due < today:
            flags.append("recheck")
        return flags

    @property
    def unit_name(self) -> str:
        if self.department_id:
            return self.department.name
        if self.unit_node_id:
            return self.unit_node.name
        return ""


OVERDUE_LABELS = {
    "accept": _("受理逾期"), "conclude": _("办结逾期"), "review": _("复查逾期"), "recheck": _("复核逾期"),
}


class PetitionTransition(TransitionRecord):
    """One step of a petition's life: who did what, from which state to which, why, when."""

    petition = models.ForeignKey(Petition, verbose_name=_("信访件"), on_delete=models.CASCADE,
                                 related_name="transitions")
    from_state = models.CharField(_("原状态"), max_length=12, choices=PetitionState.choices)
    to_state = models.CharField(_("新状态"), max_length=12, choices=PetitionState.choices)
    reason = models.CharField(_("说明"), max_length=2000, blank=True)  # a reply's reasons run long

    class Meta:
        verbose_name = _("信访流转记录")
        verbose_name_plural = _("信访流转记录")
        ordering = ["petition_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["petition", "seq"], name="petitiontransition_seq_unique")]

    def __str__(self) -> str:
        return f"{self.petition_id}#{self.seq} {self.action}"


class RepeatBasis(models.TextChoices):
    PERSON = "person", _("同一信访人")
    MATTER = "matter", _("同一事项（文字相近、同一地点）")


class CandidateStatus(models.TextChoices):
    PENDING = "pending", _("待确认")
    CONFIRMED = "confirmed", _("已确认")
    DISMISSED = "dismissed", _("已排除")


class RepeatCandidate(models.Model):
    """A likely repeat found when a petition was registered: the new petition, the earlier one it
    may repeat, why (same petitioner, or similar text at the same place) and staff's verdict."""

    scope_path_field = "petition__node__path"

    petition = models.ForeignKey(Petition, verbose_name=_("新信访件"), on_delete=models.CASCADE,
                                 related_name="candidates")
    earlier = models.ForeignKey(Petition, verbose_name=_("此前信访件"), on_delete=models.CASCADE, related_name="+")
    basis = models.CharField(_("依据"), max_length=8, choices=RepeatBasis.choices)
    score = models.FloatField(_("相似度"), default=0)
    status = models.CharField(_("状态"), max_length=10, choices=CandidateStatus.choices,
                              default=CandidateStatus.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("确认人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(_("确认时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("疑似重复信访")
        verbose_name_plural = _("疑似重复信访")
        ordering = ["petition_id", "-score", "pk"]
        constraints = [models.UniqueConstraint(fields=["petition", "earlier"], name="repeatcandidate_unique")]

    def __str__(self) -> str:
        return f"{self.petition_id}~{self.earlier_id}"


class MatterStage(models.TextChoices):
    DIAGNOSING = "diagnosing", _("待体检会诊")
    PLANNED = "planned", _("化解中")
    STRUCK_OFF = "struck_off", _("已销号")


class RepeatedMatter(BaseModel):
    """A repeated matter (重复信访事项): the petitions confirmed as one matter raised again, and its
    销号 campaign — the diagnosis (体检会诊), the plan (PlanMeasure rows), progress notes, and the
    strike-off (销号) with evidence and a leader's approval."""

    scope_path_field = "node__path"

    code = models.CharField(_("事项编号"), max_length=24, unique=True)
    node = models.ForeignKey(OrgNode, verbose_name=_("事项发生地"), on_delete=models.PROTECT, related_name="+")
    subdistrict = models.ForeignKey(OrgNode, verbose_name=_("所属街道"), on_delete=models.PROTECT, related_name="+")
    community = models.ForeignKey(OrgNode, verbose_name=_("所属社区（村）"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("事项名称"), max_length=100)
    stage = models.CharField(_("阶段"), max_length=12, choices=MatterStage.choices, default=MatterStage.DIAGNOSING)
    causes = models.CharField(_("问题成因"), max_length=1000, blank=True)
    responsible_unit = models.CharField(_("责任单位"), max_length=100, blank=True)
    basis = models.CharField(_("法律政策依据"), max_length=1000, blank=True)
    wants = models.CharField(_("信访人诉求"), max_length=1000, blank=True)
    diagnosed_on = models.DateField(_("会诊日期"), null=True, blank=True)
    diagnosed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("会诊登记人"), null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    evidence = models.CharField(_("化解情况及佐证"), max_length=2000, blank=True)
    struck_off_on = models.DateField(_("销号日期"), null=True, blank=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("审批领导"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    version = models.PositiveIntegerField(_("版本"), default=0)

    class Meta:
        verbose_name = _("重复信访事项")
        verbose_name_plural = _("重复信访事项")
        ordering = ["-pk"]
        indexes = [models.Index(fields=["subdistrict", "stage"], name="matter_sub_stage_idx")]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class PlanMeasure(models.Model):
    """One measure of a repeated matter's plan (化解方案): what, who, by when, and when done."""

    scope_path_field = "matter__node__path"

    matter = models.ForeignKey(RepeatedMatter, verbose_name=_("重复信访事项"), on_delete=models.CASCADE,
                               related_name="measures")
    text = models.CharField(_("措施"), max_length=300)
    owner = models.CharField(_("责任人"), max_length=64)
    due_on = models.DateField(_("完成时限"))
    done_on = models.DateField(_("完成日期"), null=True, blank=True)

    class Meta:
        verbose_name = _("化解措施")
        verbose_name_plural = _("化解措施")
        ordering = ["matter_id", "due_on", "pk"]

    def __str__(self) -> str:
        return self.text


class MatterNote(models.Model):
    """A progress note on a repeated matter (化解进展)."""

    scope_path_field = "matter__node__path"

    matter = models.ForeignKey(RepeatedMatter, verbose_name=_("重复信访事项"), on_delete=models.CASCADE,
                               related_name="notes")
    noted_on = models.DateField(_("日期"))
    text = models.CharField(_("进展"), max_length=1000)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("记录人"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("化解进展")
        verbose_name_plural = _("化解进展")
        ordering = ["matter_id", "-noted_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.matter_id} {self.noted_on}"


class Stability(models.TextChoices):
    STABLE = "stable", _("稳定")
    WATCH = "watch", _("关注")
    UNSTABLE = "unstable", _("不稳定")


class KeyPersonPlan(BaseModel):
    """The follow-up of a 重点信访人员: who is responsible, how often to make contact, the 稳控
    status, and when the next contact is due (the contact log is KeyContact)."""

    scope_path_field = "petitioner__node__path"

    petitioner = models.OneToOneField(Petitioner, verbose_name=_("信访人"), on_delete=models.CASCADE,
                                      related_name="key_plan")
    responsible = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("包联责任人"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    interval_days = models.PositiveSmallIntegerField(_("联系周期（天）"), default=30)
    stability = models.CharField(_("稳控状态"), max_length=10, choices=Stability.choices, default=Stability.WATCH)
    reason = models.CharField(_("列为重点的原因"), max_length=500)
    started_on = models.DateField(_("列入日期"))
    last_contact_on = models.DateField(_("最近联系"), null=True, blank=True)
    next_due = models.DateField(_("下次联系"))
    ended_on = models.DateField(_("解除日期"), null=True, blank=True)

    class Meta:
        verbose_name = _("重点信访人员稳控")
        verbose_name_plural = _("重点信访人员稳控")
        ordering = ["next_due", "pk"]

    def __str__(self) -> str:
        return str(self.petitioner_id)


class KeyContact(models.Model):
    """One contact with a 重点信访人员 (走访、电话、约谈): when, how, what was learnt, the status after."""

    scope_path_field = "plan__petitioner__node__path"

    plan = models.ForeignKey(KeyPersonPlan, verbose_name=_("稳控计划"), on_delete=models.CASCADE,
                             related_name="contacts")
    contacted_on = models.DateField(_("联系日期"))
    way = models.CharField(_("方式"), max_length=16)
    note = models.CharField(_("情况"), max_length=1000)
    stability = models.CharField(_("稳控状态"), max_length=10, choices=Stability.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("记录人"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("稳控联系记录")
        verbose_name_plural = _("稳控联系记录")
        ordering = ["plan_id", "-contacted_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.plan_id} {self.contacted_on}"
