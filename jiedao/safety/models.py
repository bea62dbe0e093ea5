"""Safety inspections (安全生产排查): campaigns and their target lists, checklists, inspections,
hazards and their rectification, park/factory tenancies (园中园 / 厂中厂) and the 三色 risk rule.

The businesses themselves are the register of jiedao.people (`Business`, 底数); this app adds
what is done to them. Every table reaches an org path for the one scoping function
(jiedao.core.scope): campaigns and templates through the node that owns them, inspections,
hazards and risk changes through the node of the business (copied when the row is written).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jiedao.core.models import BaseModel, TransitionRecord
from jiedao.core.permissions import Perm
from jiedao.org.models import OrgNode
from jiedao.people.models import Business, RiskColour


class SafetyField(models.TextChoices):
    """The fields (领域) campaigns and checklists are organised by (八大攻坚领域 and the like)."""

    FIRE = "fire", _("消防")
    MARINE = "marine", _("涉海涉渔")
    MINING = "mining", _("工矿")
    TOURISM = "tourism", _("旅游")
    URBAN = "urban", _("城市运行")
    WELDING = "welding", _("电气焊")
    HAZCHEM = "hazchem", _("危化品")
    GAS = "gas", _("燃气")
    CONSTRUCTION = "construction", _("建筑施工")
    OTHER = "other", _("其他")


class CampaignKind(models.TextChoices):
    SPECIAL = "special", _("专项整治")
    SWEEP = "sweep", _("安全大排查")
    HUNDRED_DAYS = "hundred_days", _("百日大整治")


class Severity(models.TextChoices):
    ORDINARY = "ordinary", _("一般隐患")
    MAJOR = "major", _("重大隐患")


class Campaign(BaseModel):
    """A campaign (专项整治 / 大排查 / 百日大整治): a field, a period, owners and a target list of
    businesses (CampaignTarget rows, chosen by a rule or by hand when the campaign is planned)."""

    scope_path_field = "node__path"

    node = models.ForeignKey(OrgNode, verbose_name=_("组织节点"), on_delete=models.PROTECT, related_name="+")
    subdistrict = models.ForeignKey(OrgNode, verbose_name=_("所属街道"), on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=16, choices=CampaignKind.choices)
    field = models.CharField(_("领域"), max_length=16, choices=SafetyField.choices)
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("结束日期"))
    owners = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("负责人"), related_name="+", blank=True)
    target_rule = models.JSONField(_("对象筛选条件"), default=dict, blank=True)
    notes = models.CharField(_("工作要求"), max_length=1000, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("创建人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("排查整治行动")
        verbose_name_plural = _("排查整治行动")
        ordering = ["-starts_on", "-pk"]

    def __str__(self) -> str:
        return self.title

    @staticmethod
    def scope_extra_q(user, perm):
        """A campaign planned above the user's place covers it: a grid worker sees the campaigns
        of the community and sub-district above the grid (its coverage then counts only the
        targets the worker may see)."""
        from jiedao.core.scope import PATH_SEGMENT, granted_paths

        if perm != Perm.VIEW_SAFETY:
            return None
        paths = granted_paths(user, perm)
        if not paths:
            return None
        above = {path[:n] for path in paths for n in range(PATH_SEGMENT, len(path), PATH_SEGMENT)}
        return models.Q(node__path__in=sorted(above)) if above else None


class CampaignTarget(models.Model):
    """One business on a campaign's target list (排摸对象), optionally assigned to an inspector."""

    scope_path_field = "business__node__path"

    campaign = models.ForeignKey(Campaign, verbose_name=_("行动"), on_delete=models.CASCADE, related_name="targets")
    business = models.ForeignKey(Business, verbose_name=_("主体"), on_delete=models.PROTECT, related_name="+")
    inspector = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("责任检查人"), null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("排摸对象")
        verbose_name_plural = _("排摸对象")
        constraints = [models.UniqueConstraint(fields=["campaign", "business"], name="campaigntarget_unique")]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.business_id}"


class ChecklistTemplate(BaseModel):
    """An editable inspection checklist for one field (检查表), owned by a sub-district."""

    scope_path_field = "node__path"

    node = models.ForeignKey(OrgNode, verbose_name=_("所属街道"), on_delete=models.PROTECT, related_name="+")
    field = models.CharField(_("领域"), max_length=16, choices=SafetyField.choices)
    name = models.CharField(_("名称"), max_length=100)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("检查表")
        verbose_name_plural = _("检查表")
        ordering = ["field", "name"]

    def __str__(self) -> str:
        return self.name


class ChecklistItem(models.Model):
    """One item of a checklist: what to check, the legal basis, and the severity of a failure."""

    template = models.ForeignKey(ChecklistTemplate, verbose_name=_("检查表"), on_delete=models.CASCADE,
                                 related_name="items")
    seq = models.PositiveSmallIntegerField(_("序号"))
    text = models.CharField(_("检查内容"), max_length=300)
    legal_basis = models.CharField(_("依据"), max_length=300, blank=True)
    severity = models.CharField(_("不合格时的隐患等级"), max_length=8, choices=Severity.choices,
                                default=Severity.ORDINARY)
    deadline_days = models.PositiveSmallIntegerField(_("整改期限（工作日）"), default=5)
    # Retired (停用) rather than deleted when an edit removes an item that inspections or hazards
    # already refer to: the past keeps its item, new inspections no longer ask it.
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("检查项")
        verbose_name_plural = _("检查项")
        ordering = ["template_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["template", "seq"], condition=models.Q(is_active=True),
                                               name="checklistitem_active_seq_unique")]

    def __str__(self) -> str:
        return f"{self.seq}. {self.text}"


class TenancyKind(models.TextChoices):
    PARK = "park", _("园中园")
    FACTORY = "factory", _("厂中厂")


class Tenancy(BaseModel):
    """A business renting inside a park or factory (园中园 / 厂中厂): the site and its tenant.

    A tenant has at most one site; inspecting a site lists its tenants to inspect together."""

    scope_path_field = "tenant__node__path"

    site = models.ForeignKey(Business, verbose_name=_("园区/厂区"), on_delete=models.CASCADE, related_name="tenancies")
    tenant = models.OneToOneField(Business, verbose_name=_("承租主体"), on_delete=models.CASCADE,
                                  related_name="tenancy")
    kind = models.CharField(_("类型"), max_length=8, choices=TenancyKind.choices)

    class Meta:
        verbose_name = _("租赁关系")
        verbose_name_plural = _("租赁关系")

    def __str__(self) -> str:
        return f"{self.site_id}>{self.tenant_id}"


class Inspection(BaseModel):
    """One inspection of one business on one day: the checklist answers, the findings, and the
    business contact's confirmation (签字确认). Failed items become hazards."""

    scope_path_field = "node__path"

    business = models.ForeignKey(Business, verbose_name=_("主体"), on_delete=models.PROTECT, related_name="+")
    node = models.ForeignKey(OrgNode, verbose_name=_("所在节点"), on_delete=models.PROTECT, related_name="+")
    subdistrict = models.ForeignKey(OrgNode, verbose_name=_("所属街道"), on_delete=models.PROTECT, related_name="+")
    campaign = models.ForeignKey(Campaign, verbose_name=_("行动"), null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="inspections")
    template = models.ForeignKey(ChecklistTemplate, verbose_name=_("检查表"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    site_inspection = models.ForeignKey("self", verbose_name=_("同检园区/厂区检查"), null=True, blank=True,
                                        on_delete=models.SET_NULL, related_name="tenant_inspections")
    inspector = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("检查人"), null=True,
                                  on_delete=models.SET_NULL, related_name="+")
    inspected_on = models.DateField(_("检查日期"))
    answers = models.JSONField(_("检查结果"), default=list, blank=True)
    contact_name = models.CharField(_("企业陪同人"), max_length=64, blank=True)
    contact_confirmed = models.BooleanField(_("企业确认"), default=False)
    notes = models.CharField(_("检查情况"), max_length=1000, blank=True)
    hazard_count = models.PositiveSmallIntegerField(_("发现隐患数"), default=0)
    # the form's one-time id: a submission sent again (a phone that lost the answer) is recognised
    submission = models.CharField(_("提交标识"), max_length=40, blank=True, default="")

    class Meta:
        verbose_name = _("安全检查")
        verbose_name_plural = _("安全检查")
        ordering = ["-inspected_on", "-pk"]
        indexes = [
            models.Index(fields=["subdistrict", "inspected_on"], name="inspection_sub_day_idx"),
            models.Index(fields=["business", "inspected_on"], name="inspection_business_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["inspector", "submission"], condition=~models.Q(submission=""),
                                    name="inspection_submission_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.inspected_on} {self.business_id}"


class HazardState(models.TextChoices):
    OPEN = "open", _("待整改")
    RECTIFYING = "rectifying", _("整改中")
    AWAITING = "awaiting", _("待复查")
    CLOSED = "closed", _("已销号")
    CANCELLED = "cancelled", _("已撤销")


class Hazard(BaseModel):
    """A hazard (隐患) found at a business: ordinary or major, a rectification deadline in working
    days, the responsible business and inspector, and its state in the hazard workflow
    (jiedao.safety.workflow; only services.hazard_act changes `state`)."""

    scope_path_field = "node__path"

    code = models.CharField(_("隐患编号"), max_length=24, unique=True)
    business = models.ForeignKey(Business, verbose_name=_("责任主体"), on_delete=models.PROTECT, related_name="+")
    node = models.ForeignKey(OrgNode, verbose_name=_("所在节点"), on_delete=models.PROTECT, related_name="+")
    subdistrict = models.ForeignKey(OrgNode, verbose_name=_("所属街道"), on_delete=models.PROTECT, related_name="+")
    inspection = models.ForeignKey(Inspection, verbose_name=_("检查"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="hazards")
    campaign = models.ForeignKey(Campaign, verbose_name=_("行动"), null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    item = models.ForeignKey(ChecklistItem, verbose_name=_("检查项"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    field = models.CharField(_("领域"), max_length=16, choices=SafetyField.choices)
    description = models.CharField(_("隐患描述"), max_length=500)
    legal_basis = models.CharField(_("依据"), max_length=300, blank=True)
    severity = models.CharField(_("等级"), max_length=8, choices=Severity.choices)
    inspector = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("责任检查人"), null=True,
                                  on_delete=models.SET_NULL, related_name="+")
    responsible_person = models.CharField(_("企业整改责任人"), max_length=64, blank=True)
    measures = models.CharField(_("整改措施"), max_length=500, blank=True)
    found_at = models.DateTimeField(_("发现时间"))
    deadline_days = models.PositiveSmallIntegerField(_("整改期限（工作日）"))
    deadline_at = models.DateTimeField(_("整改期限"))
    rectified_at = models.DateTimeField(_("整改完成时间"), null=True, blank=True)
    evidence = models.CharField(_("整改情况"), max_length=1000, blank=True)
    closed_at = models.DateTimeField(_("销号时间"), null=True, blank=True)
    rework_count = models.PositiveSmallIntegerField(_("复查不通过次数"), default=0)
    case = models.ForeignKey("cases.Case", verbose_name=_("移交事项"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(_("状态"), max_length=12, choices=HazardState.choices, default=HazardState.OPEN)
    version = models.PositiveIntegerField(_("版本"), default=0)

    class Meta:
        verbose_name = _("隐患")
        verbose_name_plural = _("隐患")
        ordering = ["-found_at", "-pk"]
        indexes = [
            models.Index(fields=["subdistrict", "found_at"], name="hazard_sub_found_idx"),
            models.Index(fields=["business", "state"], name="hazard_business_state_idx"),
            models.Index(fields=["state", "deadline_at"], name="hazard_state_deadline_idx"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_overdue(self) -> bool:
        """Past its deadline and not rectified yet (待整改 or 整改中; a hazard 待复查 has been
        rectified, and whether in time is judged by its rectification time)."""
        from django.utils import timezone

        return self.state in UNRECTIFIED_STATES and self.deadline_at < timezone.now()


OPEN_STATES = frozenset({HazardState.OPEN, HazardState.RECTIFYING, HazardState.AWAITING})
UNRECTIFIED_STATES = frozenset({HazardState.OPEN, HazardState.RECTIFYING})


class HazardTransition(TransitionRecord):
    """One step of a hazard's life: who did what, from which state to which, why, when."""

    hazard = models.ForeignKey(Hazard, verbose_name=_("隐患"), on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(_("原状态"), max_length=12, choices=HazardState.choices)
    to_state = models.CharField(_("新状态"), max_length=12, choices=HazardState.choices)

    class Meta:
        verbose_name = _("隐患流转记录")
        verbose_name_plural = _("隐患流转记录")
        ordering = ["hazard_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["hazard", "seq"], name="hazardtransition_seq_unique")]

    def __str__(self) -> str:
        return f"{self.hazard_id}#{self.seq} {self.action}"


def default_high_risk_industries() -> list[str]:
    return ["危险化学品", "加油站", "燃气", "烟花爆竹", "建筑施工", "粉尘涉爆", "水产加工", "物流"]


class RiskRule(BaseModel):
    """The sub-district's editable 三色 rule (see jiedao.safety.risk): thresholds on open hazards,
    recent history and industry that recompute each business's red/yellow/green colour."""

    scope_path_field = "subdistrict__path"

    subdistrict = models.OneToOneField(OrgNode, verbose_name=_("所属街道"), on_delete=models.CASCADE,
                                       related_name="+")
    red_open_major = models.PositiveSmallIntegerField(_("红：未销号重大隐患达到（个）"), default=1)
    red_open_overdue = models.PositiveSmallIntegerField(_("红：逾期未整改隐患达到（个）"), default=2)
    yellow_open = models.PositiveSmallIntegerField(_("黄：未销号隐患达到（个）"), default=1)
    yellow_recent = models.PositiveSmallIntegerField(_("黄：近期发现隐患达到（个）"), default=3)
    recent_days = models.PositiveSmallIntegerField(_("近期的天数"), default=365)
    high_risk_industries = models.JSONField(_("高风险行业（至少为黄）"), default=default_high_risk_industries,
                                            blank=True)

    # The recomputation after an edit runs as a background job (services.risk_recompute_job): the
    # page shows "正在重新计算" while the last request is newer than the last finished run.
    recompute_requested_at = models.DateTimeField(_("请求重新评定时间"), null=True, blank=True)
    recomputed_at = models.DateTimeField(_("最近重新评定时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("三色风险规则")
        verbose_name_plural = _("三色风险规则")

    def __str__(self) -> str:
        return str(self.subdistrict_id)

    @property
    def recomputing(self) -> bool:
        """A recomputation was asked for and has not finished since."""
        return self.recompute_requested_at is not None and (
            self.recomputed_at is None or self.recomputed_at < self.recompute_requested_at)


class RiskChange(models.Model):
    """One change of a business's risk colour, with the reason the rule gave."""

    scope_path_field = "node__path"

    business = models.ForeignKey(Business, verbose_name=_("主体"), on_delete=models.CASCADE, related_name="+")
    node = models.ForeignKey(OrgNode, verbose_name=_("所在节点"), on_delete=models.PROTECT, related_name="+")
    from_colour = models.CharField(_("原等级"), max_length=8, choices=RiskColour.choices)
    to_colour = models.CharField(_("新等级"), max_length=8, choices=RiskColour.choices)
    reason = models.CharField(_("原因"), max_length=300)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("时间"))

    class Meta:
        verbose_name = _("风险等级变更")
        verbose_name_plural = _("风险等级变更")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["business", "created_at"], name="riskchange_business_idx")]

    def __str__(self) -> str:
        return f"{self.business_id} {self.from_colour}->{self.to_colour}"


class PhotoKind(models.TextChoices):
    INSPECTION = "inspection", _("检查照片")
    RECTIFICATION = "rectification", _("整改照片")


class SafetyPhoto(models.Model):
    """A photo of an inspection or of a hazard's rectification, kept encrypted at rest in the
    file vault (jiedao.core.filevault) under DATA_DIR/safety/photos/<stored>; served decrypted
    only to users who see its inspection."""

    scope_path_field = "inspection__node__path"

    inspection = models.ForeignKey(Inspection, verbose_name=_("检查"), on_delete=models.CASCADE, related_name="photos")
    hazard = models.ForeignKey(Hazard, verbose_name=_("隐患"), null=True, blank=True, on_delete=models.CASCADE,
                               related_name="photos")
    kind = models.CharField(_("类型"), max_length=16, choices=PhotoKind.choices)
    stored = models.CharField(_("存储名"), max_length=64, unique=True)
    content_type = models.CharField(_("格式"), max_length=32)
    size = models.PositiveIntegerField(_("大小"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("上传人"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("安全检查照片")
        verbose_name_plural = _("安全检查照片")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.stored


class HazardMonth(models.Model):
    """Rollup behind the dashboard's hazard figures: the hazards (cancelled left out) found in
    one month at one node — how many, how many major, how many closed (已销号), how many closed
    with their standing rectification within the deadline. Kept on write by
    jiedao.safety.rollups (a hazard moves its row by the difference of what it contributes);
    `rollups.rebuild` recounts it from the hazards."""

    scope_path_field = "node__path"

    node = models.ForeignKey(OrgNode, verbose_name=_("节点"), on_delete=models.PROTECT, related_name="+")
    month = models.DateField(_("发现月份"))
    found = models.IntegerField(_("隐患"), default=0)
    major = models.IntegerField(_("重大隐患"), default=0)
    closed = models.IntegerField(_("已销号"), default=0)
    on_time = models.IntegerField(_("按期整改"), default=0)

    class Meta:
        verbose_name = _("隐患月汇总")
        verbose_name_plural = _("隐患月汇总")
        constraints = [models.UniqueConstraint(fields=["node", "month"], name="safety_hazardmonth_key")]
        indexes = [models.Index(fields=["month", "node"], name="safety_hazardmonth_month_idx")]

    def __str__(self) -> str:
        return f"{self.node_id} {self.month:%Y-%m}"


class VisitMonth(models.Model):
    """Rollup behind 排摸: a business inspected at least once in a month (at the node its
    inspection was recorded under). One row per business, node and month however many
    inspections; written with each inspection by jiedao.safety.rollups."""

    scope_path_field = "node__path"

    business = models.ForeignKey(Business, verbose_name=_("主体"), on_delete=models.CASCADE, related_name="+")
    node = models.ForeignKey(OrgNode, verbose_name=_("节点"), on_delete=models.PROTECT, related_name="+")
    month = models.DateField(_("检查月份"))

    class Meta:
        verbose_name = _("排摸月记录")
        verbose_name_plural = _("排摸月记录")
        constraints = [models.UniqueConstraint(fields=["business", "node", "month"], name="safety_visitmonth_key")]
        indexes = [models.Index(fields=["month", "business"], name="safety_visitmonth_month_idx")]

    def __str__(self) -> str:
        return f"{self.business_id} {self.month:%Y-%m}"
