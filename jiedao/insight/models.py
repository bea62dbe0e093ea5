"""Models of the insight app: classifier versions, duplicate groups and hotspots.

The text engine itself (jiedao.insight.text) needs no database; these models keep what the
platform learns from its own cases."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jiedao.core.models import BaseModel

# --- duplicate groups (nightly grouping of open cases; jiedao.insight.grouping) ----------------


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
