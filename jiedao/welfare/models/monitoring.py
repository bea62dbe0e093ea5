"""防止返贫动态监测 (low-income dynamic monitoring): the households under monitoring, the steps of
their entry and exit (jiedao.welfare.monitoring.workflow), their plan (一户一策), the monthly
visits of their cadre (一干部) and every adjustment with its reason.

A monitored household hangs on a people.Household and is scoped by the household's *current*
node (`household__node__path`: a household moved to another grid goes with it to the new grid's
staff); its plan, visits and changes reach that node through it. No clear identifier is held here: names, ID numbers and phones stay in the register
and are shown through its masks.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jiedao.core.models import BaseModel, TransitionRecord
from jiedao.org.models import OrgNode
from jiedao.people.models import Household


class MonitoringKind(models.TextChoices):
    UNSTABLE = "unstable", _("脱贫不稳定户")
    MARGINAL = "marginal", _("边缘易致贫户")
    SUDDEN = "sudden", _("突发严重困难户")


class RiskType(models.TextChoices):
    ILLNESS = "illness", _("因病")
    DISABILITY = "disability", _("因残")
    SCHOOLING = "schooling", _("因学")
    DISASTER = "disaster", _("因灾")
    ACCIDENT = "accident", _("因意外")
    EMPLOYMENT = "employment", _("务工就业不稳")
    LABOUR = "labour", _("缺劳动力")
    OTHER = "other", _("其他")


class LeadSource(models.TextChoices):
    SELF_REPORT = "self_report", _("自主申报")
    CADRE_VISIT = "cadre_visit", _("干部走访")
    DEPARTMENT = "department", _("部门数据")


class MonitoringState(models.TextChoices):
    LEAD = "lead", _("线索待核实")
    VERIFIED = "verified", _("已入户核实")
    DELIBERATED = "deliberated", _("已民主评议")
    NOTICE = "notice", _("公示中")
    MONITORED = "monitored", _("监测中")
    REJECTED = "rejected", _("不予纳入")
    EXIT_VERIFIED = "exit_verified", _("风险消除已核实")
    EXIT_DELIBERATED = "exit_deliberated", _("风险消除已评议")
    EXIT_NOTICE = "exit_notice", _("风险消除公示中")
    REMOVED = "removed", _("风险已消除")


# Before the decision on entry (the 15-day limit runs from the lead).
ENTRY_STATES = frozenset({MonitoringState.LEAD, MonitoringState.VERIFIED, MonitoringState.DELIBERATED,
                          MonitoringState.NOTICE})
# Under monitoring: included and not yet struck off (the exit steps still count as monitored).
UNDER_MONITORING = frozenset({MonitoringState.MONITORED, MonitoringState.EXIT_VERIFIED,
                              MonitoringState.EXIT_DELIBERATED, MonitoringState.EXIT_NOTICE})
CLOSED_STATES = frozenset({MonitoringState.REJECTED, MonitoringState.REMOVED})
DECISION_DAYS = 15  # from the lead to the decision on entry
NOTICE_DAYS_MIN = 5  # a public notice lasts at least this many days


class MonitoringLine(BaseModel):
    """The year's monitoring line (监测标准, 元/人/年) of a sub-district, editable each year."""

    scope_path_field = "subdistrict__path"

    subdistrict = models.ForeignKey(OrgNode, verbose_name=_("所属街道"), on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField(_("年度"))
    amount = models.DecimalField(_("监测标准（元/人/年）"), max_digits=9, decimal_places=0)
    notes = models.CharField(_("依据"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("监测标准")
        verbose_name_plural = _("监测标准")
        ordering = ["-year"]
        constraints = [models.UniqueConstraint(fields=["subdistrict", "year"], name="monitoringline_year_unique")]

    def __str__(self) -> str:
        return f"{self.year} {self.amount}"


class MonitoredHousehold(BaseModel):
    """A household under 防止返贫 monitoring, from the lead to the decision on entry and, once
    included, to the exit (风险消除): kind, risk types, the responsible cadre, members and income
    per head, the dates of every step and the exit checks (三保障 and drinking water). Only
    services.monitored_act changes `state`; services.monitored_adjust changes kind, risks, cadre
    and income, each change kept as a MonitoringChange row."""

    scope_path_field = "household__node__path"

    household = models.ForeignKey(Household, verbose_name=_("户"), on_delete=models.PROTECT, related_name="+")
    subdistrict = models.ForeignKey(OrgNode, verbose_name=_("所属街道"), on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("监测对象类型"), max_length=12, choices=MonitoringKind.choices)
    risk_types = models.JSONField(_("风险类型"), default=list, blank=True)
    lead_source = models.CharField(_("线索来源"), max_length=12, choices=LeadSource.choices)
    lead_on = models.DateField(_("线索日期"))
    lead_note = models.CharField(_("线索情况"), max_length=500, blank=True)
    cadre = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("帮扶干部"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    members = models.PositiveSmallIntegerField(_("家庭人口"), default=0)
    income_per_head = models.DecimalField(_("人均纯收入（元/年）"), max_digits=9, decimal_places=0, null=True,
                                          blank=True)
    # entry steps
    consent_on = models.DateField(_("书面授权日期"), null=True, blank=True)
    verified_on = models.DateField(_("入户核实日期"), null=True, blank=True)
    deliberated_on = models.DateField(_("民主评议日期"), null=True, blank=True)
    notice_from = models.DateField(_("公示开始"), null=True, blank=True)
    notice_to = models.DateField(_("公示结束"), null=True, blank=True)
    decided_on = models.DateField(_("认定日期"), null=True, blank=True)
    included_on = models.DateField(_("纳入监测日期"), null=True, blank=True)
    # exit steps (风险消除)
    exit_income = models.DecimalField(_("退出时人均纯收入（元/年）"), max_digits=9, decimal_places=0, null=True,
                                      blank=True)
    secure_education = models.BooleanField(_("义务教育有保障"), default=False)
    secure_medical = models.BooleanField(_("基本医疗有保障"), default=False)
    secure_housing = models.BooleanField(_("住房安全有保障"), default=False)
    secure_water = models.BooleanField(_("饮水安全有保障"), default=False)
    exit_verified_on = models.DateField(_("风险消除核实日期"), null=True, blank=True)
    exit_deliberated_on = models.DateField(_("风险消除评议日期"), null=True, blank=True)
    exit_notice_from = models.DateField(_("风险消除公示开始"), null=True, blank=True)
    exit_notice_to = models.DateField(_("风险消除公示结束"), null=True, blank=True)
    removed_on = models.DateField(_("风险消除日期"), null=True, blank=True)
    # kept current by the visit service (the due lists read it)
    last_visit_on = models.DateField(_("最近走访日期"), null=True, blank=True)
    state = models.CharField(_("状态"), max_length=16, choices=MonitoringState.choices, default=MonitoringState.LEAD)
    version = models.PositiveIntegerField(_("版本"), default=0)

    class Meta:
        verbose_name = _("监测户")
        verbose_name_plural = _("监测户")
        ordering = ["-lead_on", "-pk"]
        indexes = [
            models.Index(fields=["subdistrict", "state"], name="monitored_sub_state_idx"),
            models.Index(fields=["cadre", "state"], name="monitored_cadre_state_idx"),
        ]
        constraints = [
            # one open record per household: a new lead waits until the last one is closed
            models.UniqueConstraint(fields=["household"], name="monitored_one_open_per_household",
                                    condition=~models.Q(state__in=["rejected", "removed"])),
        ]

    def __str__(self) -> str:
        return f"{self.household.number}"

    @property
    def node(self) -> OrgNode:
        """The household's place now (never a copy: the scope and every list read the same)."""
        return self.household.node

    @property
    def decision_due(self):
        from datetime import timedelta

        return self.lead_on + timedelta(days=DECISION_DAYS)

    @property
    def decision_late(self) -> bool:
        """The entry decision passed (or, still pending, is past) its 15 days from the lead."""
        from django.utils import timezone

        if self.state in ENTRY_STATES:
            return timezone.localdate() > self.decision_due
        return self.decided_on is not None and self.decided_on > self.decision_due

    @property
    def is_monitored(self) -> bool:
        return self.state in UNDER_MONITORING

    def risk_labels(self) -> list[str]:
        return [str(RiskType(r).label) for r in self.risk_types if r in RiskType.values]


class MonitoringTransition(TransitionRecord):
    """One step of a monitored household's entry or exit: who, from which state to which, why, when."""

    monitored = models.ForeignKey(MonitoredHousehold, verbose_name=_("监测户"), on_delete=models.CASCADE,
                                  related_name="transitions")
    from_state = models.CharField(_("原状态"), max_length=16, choices=MonitoringState.choices)
    to_state = models.CharField(_("新状态"), max_length=16, choices=MonitoringState.choices)

    class Meta:
        verbose_name = _("监测户流转记录")
        verbose_name_plural = _("监测户流转记录")
        ordering = ["monitored_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["monitored", "seq"], name="monitoringtransition_seq_unique")]

    def __str__(self) -> str:
        return f"{self.monitored_id}#{self.seq} {self.action}"


class MeasureCategory(models.TextChoices):
    INDUSTRY = "industry", _("产业帮扶")
    EMPLOYMENT = "employment", _("就业帮扶")
    EDUCATION = "education", _("教育帮扶")
    MEDICAL = "medical", _("医疗保障")
    HOUSING = "housing", _("住房保障")
    SAFETY_NET = "safety_net", _("综合保障兜底")
    MICROCREDIT = "microcredit", _("小额信贷")
    OTHER = "other", _("其他")


class MeasureStatus(models.TextChoices):
    PLANNED = "planned", _("未开始")
    ONGOING = "ongoing", _("实施中")
    DONE = "done", _("已完成")
    CANCELLED = "cancelled", _("已取消")


class Measure(BaseModel):
    """One measure of the household's plan (一户一策): what, who owns it, by when, how far."""

    scope_path_field = "monitored__household__node__path"

    monitored = models.ForeignKey(MonitoredHousehold, verbose_name=_("监测户"), on_delete=models.CASCADE,
                                  related_name="measures")
    category = models.CharField(_("帮扶类别"), max_length=12, choices=MeasureCategory.choices)
    content = models.CharField(_("帮扶措施"), max_length=300)
    owner = models.CharField(_("责任人（单位）"), max_length=64)
    due_on = models.DateField(_("完成时限"))
    status = models.CharField(_("进展"), max_length=12, choices=MeasureStatus.choices, default=MeasureStatus.PLANNED)
    done_on = models.DateField(_("完成日期"), null=True, blank=True)
    progress = models.CharField(_("进展情况"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("帮扶措施")
        verbose_name_plural = _("帮扶措施")
        ordering = ["monitored_id", "due_on", "pk"]

    def __str__(self) -> str:
        return self.content

    @property
    def is_late(self) -> bool:
        from django.utils import timezone

        return self.status in (MeasureStatus.PLANNED, MeasureStatus.ONGOING) and self.due_on < timezone.localdate()


class MonitoringVisit(BaseModel):
    """One visit of the cadre to a monitored household (每月走访): when, by whom, what changed
    (income, risks added or removed, measure progress) and a note."""

    scope_path_field = "monitored__household__node__path"

    monitored = models.ForeignKey(MonitoredHousehold, verbose_name=_("监测户"), on_delete=models.CASCADE,
                                  related_name="visits")
    visited_on = models.DateField(_("走访日期"))
    cadre = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("走访干部"), null=True,
                              on_delete=models.SET_NULL, related_name="+")
    income_per_head = models.DecimalField(_("人均纯收入（元/年）"), max_digits=9, decimal_places=0, null=True,
                                          blank=True)
    risks_added = models.JSONField(_("新增风险"), default=list, blank=True)
    risks_removed = models.JSONField(_("消除风险"), default=list, blank=True)
    measures_touched = models.JSONField(_("措施进展"), default=list, blank=True)
    note = models.CharField(_("走访情况"), max_length=1000, blank=True)
    submission = models.CharField(_("提交标识"), max_length=40, blank=True, default="")

    class Meta:
        verbose_name = _("监测走访")
        verbose_name_plural = _("监测走访")
        ordering = ["-visited_on", "-pk"]
        indexes = [models.Index(fields=["monitored", "visited_on"], name="monvisit_monitored_day_idx")]
        constraints = [
            models.UniqueConstraint(fields=["cadre", "submission"], condition=~models.Q(submission=""),
                                    name="monvisit_submission_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.monitored_id} {self.visited_on}"

    def added_labels(self) -> list[str]:
        return [str(RiskType(r).label) for r in self.risks_added if r in RiskType.values]

    def removed_labels(self) -> list[str]:
        return [str(RiskType(r).label) for r in self.risks_removed if r in RiskType.values]


class ChangeField(models.TextChoices):
    KIND = "kind", _("监测对象类型")
    RISK_TYPES = "risk_types", _("风险类型")
    CADRE = "cadre", _("帮扶干部")
    INCOME = "income_per_head", _("人均纯收入")
    MEMBERS = "members", _("家庭人口")


class MonitoringChange(models.Model):
    """One dynamic adjustment (动态调整) of a monitored household: the field, old and new value
    (as shown), the reason, who and when; from the adjust form or a visit."""

    scope_path_field = "monitored__household__node__path"

    monitored = models.ForeignKey(MonitoredHousehold, verbose_name=_("监测户"), on_delete=models.CASCADE,
                                  related_name="changes")
    field = models.CharField(_("调整项"), max_length=16, choices=ChangeField.choices)
    old = models.JSONField(_("原值"), null=True, blank=True)
    new = models.JSONField(_("新值"), null=True, blank=True)
    reason = models.CharField(_("调整原因"), max_length=500)
    visit = models.ForeignKey(MonitoringVisit, verbose_name=_("走访"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="changes")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("时间"))

    class Meta:
        verbose_name = _("动态调整记录")
        verbose_name_plural = _("动态调整记录")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.monitored_id} {self.field}"

    def _text(self, value) -> str:
        if value is None or value == "" or value == []:
            return "—"
        if self.field == ChangeField.RISK_TYPES:
            return "、".join(str(RiskType(r).label) for r in value if r in RiskType.values)
        if self.field == ChangeField.KIND and value in MonitoringKind.values:
            return str(MonitoringKind(value).label)
        if isinstance(value, dict):
            return str(value.get("name", ""))
        return str(value)

    @property
    def old_text(self) -> str:
        return self._text(self.old)

    @property
    def new_text(self) -> str:
        return self._text(self.new)
