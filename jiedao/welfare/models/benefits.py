"""Benefits and subsidies (救助补贴): the programme catalogue (城市低保, 农村低保, 特困供养, 临时救助,
长寿补贴, 廉租住房补贴, 扶贫小额信贷 …), the grants that put a resident (and the household) in a
programme for a period with an amount and review dates, and the payments recorded per grant and
month (entered on a page or imported from the civil-affairs xlsx).

Grants and payments hang on the resident's org node (copied when written, with the community /
village above it for the totals), so the one scoping function (jiedao.core.scope) scopes them as
it scopes the register. No identifier is held here: the resident's masked ID number is shown
from people.Resident.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jiedao.core.models import BaseModel, ImportJob, TransitionRecord
from jiedao.org.models import OrgNode
from jiedao.people.models import Household, Resident


class GrantUnit(models.TextChoices):
    PERSON = "person", _("按人")
    HOUSEHOLD = "household", _("按户")


class PayPeriod(models.TextChoices):
    MONTHLY = "monthly", _("按月")
    YEARLY = "yearly", _("按年")
    ONE_OFF = "one_off", _("一次性")


class Headline(models.TextChoices):
    """Which figure a programme's total is reported by, as the work reports do."""

    PERSON_TIMES = "person_times", _("人次与人均补差")
    HOUSEHOLDS = "households", _("户数与金额")
    PERSONS = "persons", _("人数与金额")


class Programme(BaseModel):
    """A benefit or subsidy programme of the catalogue (救助补贴项目): the unit it is granted per
    (person or household), how often it is paid, how often a grant is reviewed (低保: yearly),
    and the default amount with its rule in words. Editable; the defaults are seeded."""

    code = models.SlugField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=32, unique=True)
    unit = models.CharField(_("计发单位"), max_length=16, choices=GrantUnit.choices, default=GrantUnit.PERSON)
    period = models.CharField(_("发放周期"), max_length=16, choices=PayPeriod.choices, default=PayPeriod.MONTHLY)
    review_months = models.PositiveSmallIntegerField(_("复核周期（月）"), null=True, blank=True)
    default_amount = models.DecimalField(_("标准金额（元）"), max_digits=12, decimal_places=2, null=True, blank=True)
    amount_rule = models.CharField(_("金额标准说明"), max_length=500, blank=True)
    headline = models.CharField(_("统计口径"), max_length=16, choices=Headline.choices, default=Headline.PERSONS)
    sort_order = models.PositiveIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("救助补贴项目")
        verbose_name_plural = _("救助补贴项目")
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name


class GrantState(models.TextChoices):
    ACTIVE = "active", _("在保")
    SUSPENDED = "suspended", _("暂停")
    ENDED = "ended", _("停发/退出")


class Grant(BaseModel):
    """A resident (and the household, for a per-household programme) in a programme: the
    eligibility period, the amount per payment period in 元, the persons covered, the next review
    date and the state (在保 / 暂停 / 停发退出), which only services.grant_act changes (the
    transition table is jiedao.welfare.benefits.workflow)."""

    scope_path_field = "node__path"

    programme = models.ForeignKey(Programme, verbose_name=_("项目"), on_delete=models.PROTECT, related_name="grants")
    resident = models.ForeignKey(Resident, verbose_name=_("保障对象（申请人）"), on_delete=models.PROTECT,
                                 related_name="+")
    household = models.ForeignKey(Household, verbose_name=_("户"), null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    node = models.ForeignKey(OrgNode, verbose_name=_("所在节点"), on_delete=models.PROTECT, related_name="+")
    community = models.ForeignKey(OrgNode, verbose_name=_("所属社区（村）"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    subdistrict = models.ForeignKey(OrgNode, verbose_name=_("所属街道"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    starts_on = models.DateField(_("保障开始日期"))
    ends_on = models.DateField(_("保障结束日期"), null=True, blank=True)
    amount = models.DecimalField(_("每期金额（元）"), max_digits=12, decimal_places=2)
    persons = models.PositiveSmallIntegerField(_("保障人数"), default=1)
    next_review_on = models.DateField(_("下次复核日期"), null=True, blank=True)
    reviewed_on = models.DateField(_("最近复核日期"), null=True, blank=True)
    notes = models.CharField(_("备注"), max_length=500, blank=True)
    state = models.CharField(_("状态"), max_length=12, choices=GrantState.choices, default=GrantState.ACTIVE)
    version = models.PositiveIntegerField(_("版本"), default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    # made by the civil-affairs import for a person paid without a grant: a later import may
    # move its start earlier (to an earlier month it pays) while nothing is paid before
    from_import = models.BooleanField(_("由发放表导入建立"), default=False)

    class Meta:
        verbose_name = _("救助补贴资格")
        verbose_name_plural = _("救助补贴资格")
        ordering = ["-starts_on", "-pk"]
        indexes = [
            models.Index(fields=["programme", "resident"], name="grant_programme_resident_idx"),
            models.Index(fields=["state", "next_review_on"], name="grant_state_review_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.programme_id}:{self.resident_id}"


class GrantTransition(TransitionRecord):
    """One step of a grant's life (暂停, 恢复, 停发/退出, 复核): who, from which state to which, why, when."""

    grant = models.ForeignKey(Grant, verbose_name=_("资格"), on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(_("原状态"), max_length=12, choices=GrantState.choices)
    to_state = models.CharField(_("新状态"), max_length=12, choices=GrantState.choices)

    class Meta:
        verbose_name = _("资格变动记录")
        verbose_name_plural = _("资格变动记录")
        ordering = ["grant_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["grant", "seq"], name="granttransition_seq_unique")]

    def __str__(self) -> str:
        return f"{self.grant_id}#{self.seq} {self.action}"


class PaymentSource(models.TextChoices):
    MANUAL = "manual", _("页面登记")
    IMPORT = "import", _("民政发放表导入")


class Payment(BaseModel):
    """One payment of a grant for one month (发放月份, stored as the month's first day): the amount
    in 元 (exact) and the persons it covered. The programme, resident, household, node and
    community are copied from the grant so the totals group without joins."""

    scope_path_field = "node__path"

    grant = models.ForeignKey(Grant, verbose_name=_("资格"), on_delete=models.PROTECT, related_name="payments")
    programme = models.ForeignKey(Programme, verbose_name=_("项目"), on_delete=models.PROTECT, related_name="+")
    resident = models.ForeignKey(Resident, verbose_name=_("保障对象"), on_delete=models.PROTECT, related_name="+")
    household = models.ForeignKey(Household, verbose_name=_("户"), null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    node = models.ForeignKey(OrgNode, verbose_name=_("所在节点"), on_delete=models.PROTECT, related_name="+")
    community = models.ForeignKey(OrgNode, verbose_name=_("所属社区（村）"), null=True, blank=True,
                                  on_delete=models.PROTECT, related_name="+")
    subdistrict = models.ForeignKey(OrgNode, verbose_name=_("所属街道"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    month = models.DateField(_("发放月份"))
    amount = models.DecimalField(_("发放金额（元）"), max_digits=12, decimal_places=2)
    persons = models.PositiveSmallIntegerField(_("保障人数"), default=1)
    source = models.CharField(_("来源"), max_length=16, choices=PaymentSource.choices, default=PaymentSource.MANUAL)
    import_job = models.ForeignKey(ImportJob, verbose_name=_("导入作业"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("救助补贴发放")
        verbose_name_plural = _("救助补贴发放")
        ordering = ["-month", "-pk"]
        constraints = [models.UniqueConstraint(fields=["grant", "month"], name="payment_grant_month_unique")]
        indexes = [
            models.Index(fields=["subdistrict", "month"], name="payment_sub_month_idx"),
            models.Index(fields=["programme", "month"], name="payment_programme_month_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.grant_id}@{self.month:%Y-%m}"
