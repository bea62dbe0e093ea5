"""Visits to people who need them, and the veterans' records (退役军人及其他优抚对象).

A special group's `visit_interval_days` (people.SpecialGroup) drives the visit schedule: for every
active people.ResidentTag of such a group the next visit is due `interval` days after the last
visit counted for that group (or after the tag's start date when never visited). The schedule is
computed on each read from the tags and the visits (jiedao.welfare.visits.selectors.due_rows), never
stored, so editing an interval changes the due list at once.

Every table reaches the resident's org path (`resident__node__path`) for the one scoping function;
residents are shown only by the register's masks.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jiedao.core.models import BaseModel, TransitionRecord
from jiedao.people.models import Resident, SpecialGroup

__all__ = ["CardApplication", "CardState", "CardStatus", "CardTransition", "RequestKind", "RequestState",
           "RequestTransition", "ServiceRequest", "Veteran", "VeteranCategory", "VeteranCheck", "Visit", "VisitMode"]


class VisitMode(models.TextChoices):
    HOME = "home", _("入户")
    PHONE = "phone", _("电话")
    VIDEO = "video", _("视频")


class Visit(BaseModel):
    """One visit (走访) of a resident on one day, counted for one or more of the resident's special
    groups: who visited, how, what was found and the needs raised. A need may become a case of the
    cases app (its intake), linked here."""

    scope_path_field = "resident__node__path"

    resident = models.ForeignKey(Resident, verbose_name=_("居民"), on_delete=models.CASCADE, related_name="+")
    groups = models.ManyToManyField(SpecialGroup, verbose_name=_("计入的特殊人群类别"), related_name="+")
    visited_on = models.DateField(_("走访日期"))
    visitor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("走访人"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    mode = models.CharField(_("走访方式"), max_length=8, choices=VisitMode.choices, default=VisitMode.HOME)
    findings = models.CharField(_("走访情况"), max_length=1000, blank=True)
    needs = models.CharField(_("反映的需求"), max_length=1000, blank=True)
    case = models.ForeignKey("cases.Case", verbose_name=_("转办事项"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    # the form's one-time id: a visit sent again (a phone that lost the answer) is recognised
    submission = models.CharField(_("提交标识"), max_length=40, blank=True, default="")

    class Meta:
        verbose_name = _("走访记录")
        verbose_name_plural = _("走访记录")
        ordering = ["-visited_on", "-pk"]
        indexes = [models.Index(fields=["resident", "visited_on"], name="visit_resident_day_idx"),
                   models.Index(fields=["visited_on"], name="visit_day_idx")]
        constraints = [models.UniqueConstraint(fields=["visitor", "submission"], condition=~models.Q(submission=""),
                                               name="visit_submission_uniq")]

    def __str__(self) -> str:
        return f"{self.visited_on} {self.resident_id}"


class VeteranCategory(models.TextChoices):
    VETERAN = "veteran", _("退役军人")
    MARTYR_FAMILY = "martyr_family", _("烈属")
    MILITARY_FAMILY = "military_family", _("军属")
    DISABLED_SOLDIER = "disabled_soldier", _("伤残军人")
    OTHER = "other", _("其他优抚对象")


class CardStatus(models.TextChoices):
    NONE = "none", _("未申领")
    APPLYING = "applying", _("申领中")
    ISSUED = "issued", _("已发放")


class Veteran(BaseModel):
    """A veteran or other 优抚对象 living in the register: category, service years, the 优待证
    (status and number — not a personal identifier, but for the staff only), whether a file is
    set up (建档立卡), and when the information was last checked (each check is a VeteranCheck)."""

    scope_path_field = "resident__node__path"

    resident = models.OneToOneField(Resident, verbose_name=_("居民"), on_delete=models.CASCADE, related_name="+")
    category = models.CharField(_("类别"), max_length=20, choices=VeteranCategory.choices,
                                default=VeteranCategory.VETERAN)
    enlisted_year = models.PositiveSmallIntegerField(_("入伍年份"), null=True, blank=True)
    discharged_year = models.PositiveSmallIntegerField(_("退役年份"), null=True, blank=True)
    card_status = models.CharField(_("优待证状态"), max_length=10, choices=CardStatus.choices,
                                   default=CardStatus.NONE)
    card_number = models.CharField(_("优待证号"), max_length=32, blank=True)
    filed = models.BooleanField(_("已建档立卡"), default=False)
    checked_on = models.DateField(_("信息核对日期"), null=True, blank=True)
    notes = models.CharField(_("备注"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("退役军人及优抚对象")
        verbose_name_plural = _("退役军人及优抚对象")
        ordering = ["resident__node__path", "resident__name"]

    def __str__(self) -> str:
        return str(self.resident_id)


class VeteranCheck(models.Model):
    """One check of a veteran's information (核对完善信息, counted in 人次)."""

    scope_path_field = "veteran__resident__node__path"

    veteran = models.ForeignKey(Veteran, verbose_name=_("优抚对象"), on_delete=models.CASCADE, related_name="checks")
    checked_on = models.DateField(_("核对日期"))
    checker = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("核对人"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    notes = models.CharField(_("核对情况"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("信息核对记录")
        verbose_name_plural = _("信息核对记录")
        ordering = ["-checked_on", "-pk"]
        indexes = [models.Index(fields=["checked_on"], name="veterancheck_day_idx")]

    def __str__(self) -> str:
        return f"{self.veteran_id} {self.checked_on}"


class RequestKind(models.TextChoices):
    HELP = "help", _("求助")
    CLAIM = "claim", _("诉求")


class RequestState(models.TextChoices):
    REGISTERED = "registered", _("已登记")
    IN_PROGRESS = "in_progress", _("办理中")
    DONE = "done", _("已办结")


class ServiceRequest(BaseModel):
    """A veteran's service request (求助 / 诉求), moved only by the request workflow
    (jiedao.welfare.visits.workflow, services.request_act)."""

    scope_path_field = "veteran__resident__node__path"

    veteran = models.ForeignKey(Veteran, verbose_name=_("优抚对象"), on_delete=models.CASCADE, related_name="requests")
    kind = models.CharField(_("类型"), max_length=8, choices=RequestKind.choices)
    content = models.CharField(_("内容"), max_length=1000)
    received_on = models.DateField(_("登记日期"))
    result = models.CharField(_("办理结果"), max_length=1000, blank=True)
    done_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(_("状态"), max_length=12, choices=RequestState.choices, default=RequestState.REGISTERED)
    version = models.PositiveIntegerField(_("版本"), default=0)

    class Meta:
        verbose_name = _("优抚对象诉求")
        verbose_name_plural = _("优抚对象诉求")
        ordering = ["-received_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.veteran_id} {self.kind}"


class RequestTransition(TransitionRecord):
    """One step of a service request: who did what, from which state to which, why, when."""

    request = models.ForeignKey(ServiceRequest, verbose_name=_("诉求"), on_delete=models.CASCADE,
                                related_name="transitions")
    from_state = models.CharField(_("原状态"), max_length=12, choices=RequestState.choices)
    to_state = models.CharField(_("新状态"), max_length=12, choices=RequestState.choices)

    class Meta:
        verbose_name = _("诉求流转记录")
        verbose_name_plural = _("诉求流转记录")
        ordering = ["request_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["request", "seq"], name="requesttransition_seq_unique")]

    def __str__(self) -> str:
        return f"{self.request_id}#{self.seq} {self.action}"


class CardState(models.TextChoices):
    APPLIED = "applied", _("已申请")
    REVIEWED = "reviewed", _("已审核")
    MADE = "made", _("已制证")
    ISSUED = "issued", _("已发放")
    REJECTED = "rejected", _("未通过")


class CardApplication(BaseModel):
    """An application for a 优待证 (申请 → 审核 → 制证 → 发放), moved only by the card workflow
    (jiedao.welfare.visits.workflow, services.card_act)."""

    scope_path_field = "veteran__resident__node__path"

    veteran = models.ForeignKey(Veteran, verbose_name=_("优抚对象"), on_delete=models.CASCADE,
                                related_name="applications")
    applied_on = models.DateField(_("申请日期"))
    issued_on = models.DateField(_("发放日期"), null=True, blank=True)
    card_number = models.CharField(_("优待证号"), max_length=32, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(_("状态"), max_length=12, choices=CardState.choices, default=CardState.APPLIED)
    version = models.PositiveIntegerField(_("版本"), default=0)

    class Meta:
        verbose_name = _("优待证申请")
        verbose_name_plural = _("优待证申请")
        ordering = ["-applied_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.veteran_id} {self.applied_on}"


class CardTransition(TransitionRecord):
    """One step of a 优待证 application."""

    application = models.ForeignKey(CardApplication, verbose_name=_("优待证申请"), on_delete=models.CASCADE,
                                    related_name="transitions")
    from_state = models.CharField(_("原状态"), max_length=12, choices=CardState.choices)
    to_state = models.CharField(_("新状态"), max_length=12, choices=CardState.choices)

    class Meta:
        verbose_name = _("优待证流转记录")
        verbose_name_plural = _("优待证流转记录")
        ordering = ["application_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["application", "seq"], name="cardtransition_seq_unique")]

    def __str__(self) -> str:
        return f"{self.application_id}#{self.seq} {self.action}"
