"""The base registers (底数): households, residents, special groups and businesses.

Personal identifiers (身份证号, phone numbers) are never stored in clear: each has an SM4
ciphertext (`*_enc`), a keyed blind index (`*_bidx`) for exact lookups and de-duplication, and
a masked form (`*_masked`) for display. See jiedao.core.crypto.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from jiedao.core.models import BaseModel
from jiedao.org.models import OrgNode


class Gender(models.TextChoices):
    MALE = "male", _("男")
    FEMALE = "female", _("女")


class Household(BaseModel):
    """A household (户) living at an address on an org node (usually a building)."""

    scope_path_field = "node__path"

    node = models.ForeignKey(OrgNode, verbose_name=_("所在节点"), on_delete=models.PROTECT, related_name="households")
    subdistrict = models.ForeignKey(
        OrgNode, verbose_name=_("所属街道"), on_delete=models.PROTECT, related_name="+", null=True
    )
    number = models.CharField(_("户号"), max_length=32)
    address = models.CharField(_("住址"), max_length=200)
    unit = models.CharField(_("单元"), max_length=16, blank=True)
    floor = models.SmallIntegerField(_("楼层"), null=True, blank=True)
    room = models.CharField(_("室号"), max_length=16, blank=True)
    head = models.ForeignKey(
        "Resident", verbose_name=_("户主"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    notes = models.CharField(_("备注"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("户")
        verbose_name_plural = _("户")
        ordering = ["node__path", "number"]
        constraints = [models.UniqueConstraint(fields=["subdistrict", "number"], name="household_number_unique")]

    def __str__(self) -> str:
        return f"{self.number} {self.address}"


class Resident(BaseModel):
    """A resident (居民). Gender and birth date are derived from the 身份证号 when it is given."""

    scope_path_field = "node__path"
    # Ciphertexts and blind indexes stay out of the audit log; the masked forms are enough.
    # The birth date is derived from the ID number and would narrow it: it stays out as well.
    audit_exclude = ("id_number_enc", "id_number_bidx", "phone_enc", "phone_bidx", "birth_date")

    node = models.ForeignKey(OrgNode, verbose_name=_("所在节点"), on_delete=models.PROTECT, related_name="residents")
    subdistrict = models.ForeignKey(
        OrgNode, verbose_name=_("所属街道"), on_delete=models.PROTECT, related_name="+", null=True
    )
    household = models.ForeignKey(
        Household, verbose_name=_("户"), null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    relation = models.CharField(_("与户主关系"), max_length=16, blank=True)
    name = models.CharField(_("姓名"), max_length=64)
    id_number_enc = models.TextField(_("身份证号（密文）"), blank=True)
    id_number_bidx = models.CharField(_("身份证号索引"), max_length=64, blank=True)
    id_number_masked = models.CharField(_("身份证号"), max_length=24, blank=True)
    gender = models.CharField(_("性别"), max_length=8, choices=Gender.choices, blank=True)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True)
    phone_enc = models.TextField(_("电话（密文）"), blank=True)
    phone_bidx = models.CharField(_("电话索引"), max_length=64, blank=True, db_index=True)
    phone_masked = models.CharField(_("联系电话"), max_length=24, blank=True)
    registered_address = models.CharField(_("户籍地址"), max_length=200, blank=True)
    actual_address = models.CharField(_("现住地址"), max_length=200, blank=True)
    is_floating = models.BooleanField(_("流动人口"), default=False)
    notes = models.CharField(_("备注"), max_length=500, blank=True)
    is_active = models.BooleanField(_("在册"), default=True)

    class Meta:
        verbose_name = _("居民")
        verbose_name_plural = _("居民")
        ordering = ["node__path", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["id_number_bidx"], condition=~models.Q(id_number_bidx=""), name="resident_id_number_unique"
            ),
        ]
        indexes = [models.Index(fields=["node", "name"], name="resident_node_name_idx")]

    def __str__(self) -> str:
        return self.name


class SpecialGroup(BaseModel):
    """A special-group tag (低保, 低收入农户, 特困, 独居老人, 残疾人, 退役军人, 重点人员 …).

    `fields` lists extra fields the tag records, e.g.
    [{"name": "level", "label": "残疾等级", "type": "choice", "choices": ["一级", "二级"]}].
    """

    code = models.SlugField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=32, unique=True)
    fields = models.JSONField(_("附加字段"), default=list, blank=True)
    visit_interval_days = models.PositiveSmallIntegerField(_("走访周期（天）"), null=True, blank=True)
    sort_order = models.PositiveIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("特殊人群类别")
        verbose_name_plural = _("特殊人群类别")
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name


class ResidentTag(BaseModel):
    """A resident's membership of a special group, with its dates and extra fields."""

    scope_path_field = "resident__node__path"

    resident = models.ForeignKey(Resident, verbose_name=_("居民"), on_delete=models.CASCADE, related_name="tags")
    group = models.ForeignKey(SpecialGroup, verbose_name=_("类别"), on_delete=models.PROTECT, related_name="members")
    start_date = models.DateField(_("认定日期"), null=True, blank=True)
    end_date = models.DateField(_("退出日期"), null=True, blank=True)
    data = models.JSONField(_("附加信息"), default=dict, blank=True)
    notes = models.CharField(_("备注"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("特殊人群标签")
        verbose_name_plural = _("特殊人群标签")
        constraints = [models.UniqueConstraint(fields=["resident", "group"], name="residenttag_unique")]

    def __str__(self) -> str:
        return f"{self.resident} · {self.group}"


class BusinessSize(models.TextChoices):
    LARGE = "large", _("大型")
    MEDIUM = "medium", _("中型")
    SMALL = "small", _("小型")
    MICRO = "micro", _("微型")
    INDIVIDUAL = "individual", _("个体")


class RiskColour(models.TextChoices):
    RED = "red", _("红")
    YELLOW = "yellow", _("黄")
    GREEN = "green", _("绿")


class Business(BaseModel):
    """A business or other registered entity (工商业主体) located on an org node."""

    scope_path_field = "node__path"

    node = models.ForeignKey(OrgNode, verbose_name=_("所在节点"), on_delete=models.PROTECT, related_name="businesses")
    subdistrict = models.ForeignKey(
        OrgNode, verbose_name=_("所属街道"), on_delete=models.PROTECT, related_name="+", null=True
    )
    name = models.CharField(_("名称"), max_length=128)
    uscc = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    kind = models.CharField(_("主体类型"), max_length=32, blank=True)
    legal_rep = models.CharField(_("法定代表人"), max_length=64, blank=True)
    address = models.CharField(_("经营地址"), max_length=200, blank=True)
    industry = models.CharField(_("行业"), max_length=64, blank=True)
    size = models.CharField(_("规模"), max_length=16, choices=BusinessSize.choices, blank=True)
    risk_colour = models.CharField(_("风险等级"), max_length=8, choices=RiskColour.choices, default=RiskColour.GREEN)
    phone_enc = models.TextField(_("联系电话（密文）"), blank=True)
    phone_bidx = models.CharField(_("联系电话索引"), max_length=64, blank=True)
    phone_masked = models.CharField(_("联系电话"), max_length=24, blank=True)
    is_active = models.BooleanField(_("在营"), default=True)

    audit_exclude = ("phone_enc", "phone_bidx")

    class Meta:
        verbose_name = _("工商业主体")
        verbose_name_plural = _("工商业主体")
        ordering = ["node__path", "name"]
        constraints = [
            models.UniqueConstraint(fields=["uscc"], condition=~models.Q(uscc=""), name="business_uscc_unique"),
        ]

    def __str__(self) -> str:
        return self.name
