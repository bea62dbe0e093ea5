"""The org tree (街道 → 社区/村 → 网格 → 微网格 → 楼栋), departments, staff and their roles."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from jiedao.core.models import BaseModel
from jiedao.core.permissions import Role
from jiedao.core.scope import PATH_MAX


class NodeKind(models.TextChoices):
    CITY = "city", _("市")
    DISTRICT = "district", _("区（县）")
    SUBDISTRICT = "subdistrict", _("街道")
    COMMUNITY = "community", _("社区")
    VILLAGE = "village", _("村")
    GRID = "grid", _("网格")
    MICROGRID = "microgrid", _("微网格")
    BUILDING = "building", _("楼栋")


# Which kinds may hang under which: the shape of the five-level grid.
ALLOWED_CHILDREN: dict[str, frozenset[str]] = {
    NodeKind.CITY: frozenset({NodeKind.DISTRICT}),
    NodeKind.DISTRICT: frozenset({NodeKind.SUBDISTRICT}),
    NodeKind.SUBDISTRICT: frozenset({NodeKind.COMMUNITY, NodeKind.VILLAGE}),
    NodeKind.COMMUNITY: frozenset({NodeKind.GRID}),
    NodeKind.VILLAGE: frozenset({NodeKind.GRID}),
    NodeKind.GRID: frozenset({NodeKind.MICROGRID, NodeKind.BUILDING}),
    NodeKind.MICROGRID: frozenset({NodeKind.BUILDING}),
    NodeKind.BUILDING: frozenset(),
}
ROOT_KINDS = frozenset({NodeKind.CITY, NodeKind.DISTRICT, NodeKind.SUBDISTRICT})


class OrgNode(BaseModel):
    """A node of the governance tree; every record of the platform hangs on one.

    `path` is a materialized path of 4-digit segments (root "0001", its third child
    "00010003"), so a subtree is one index range scan (see jiedao.core.scope.subtree_range).
    `subdistrict` is denormalized so that large tables can be partitioned by sub-district.
    """

    scope_path_field = "path"

    parent = models.ForeignKey(
        "self", verbose_name=_("上级"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    kind = models.CharField(_("类型"), max_length=16, choices=NodeKind.choices)
    name = models.CharField(_("名称"), max_length=64)
    code = models.CharField(_("编码"), max_length=24, blank=True)
    path = models.CharField(_("路径"), max_length=PATH_MAX, unique=True)
    depth = models.PositiveSmallIntegerField(_("层级"))
    subdistrict = models.ForeignKey(
        "self", verbose_name=_("所属街道"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    boundary = models.JSONField(_("边界（GeoJSON）"), null=True, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    floors = models.PositiveSmallIntegerField(_("层数"), null=True, blank=True)
    units = models.PositiveSmallIntegerField(_("单元数"), null=True, blank=True)
    sort_order = models.PositiveIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("组织节点")
        verbose_name_plural = _("组织节点")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["code"], condition=~models.Q(code=""), name="orgnode_code_unique"),
            models.UniqueConstraint(fields=["parent", "name"], name="orgnode_sibling_name_unique"),
        ]
        indexes = [
            models.Index(fields=["parent", "sort_order"], name="orgnode_children_idx"),
            models.Index(fields=["subdistrict", "kind"], name="orgnode_subdistrict_kind_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_leaf_kind(self) -> bool:
        return not ALLOWED_CHILDREN[self.kind]


class DepartmentKind(models.TextChoices):
    OFFICE = "office", _("科室")
    JOINT_TEAM = "joint_team", _("联合执法队")
    STATION = "station", _("站所")


class Department(BaseModel):
    """A sub-district department (科室), station or joint-enforcement team that handles work."""

    scope_path_field = "subdistrict__path"

    subdistrict = models.ForeignKey(
        OrgNode, verbose_name=_("所属街道"), on_delete=models.PROTECT, related_name="departments"
    )
    name = models.CharField(_("名称"), max_length=64)
    kind = models.CharField(_("类型"), max_length=16, choices=DepartmentKind.choices, default=DepartmentKind.OFFICE)
    duties = models.CharField(_("职责"), max_length=300, blank=True)
    sort_order = models.PositiveIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("部门")
        verbose_name_plural = _("部门")
        ordering = ["subdistrict_id", "sort_order", "id"]
        constraints = [models.UniqueConstraint(fields=["subdistrict", "name"], name="department_name_unique")]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A staff account. `home_node` is where the account belongs; it decides who administers it."""

    scope_path_field = "home_node__path"
    audit_exclude = ("password", "last_login")

    full_name = models.CharField(_("姓名"), max_length=64, blank=True)
    phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    home_node = models.ForeignKey(
        OrgNode, verbose_name=_("所属组织"), null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )

    objects = UserManager()

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        ordering = ["username"]

    def __str__(self) -> str:
        return self.full_name or self.username

    def get_full_name(self) -> str:
        return self.full_name or self.username


class RoleAssignment(BaseModel):
    """A user's role bound to an org node (and a department for department handlers).

    The people responsible for a node (网格长, 网格员, 楼栋长 …) are the assignments on it.
    """

    scope_path_field = "node__path"

    user = models.ForeignKey(User, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="assignments")
    role = models.CharField(_("角色"), max_length=32, choices=Role.choices)
    node = models.ForeignKey(OrgNode, verbose_name=_("组织节点"), on_delete=models.PROTECT, related_name="assignments")
    department = models.ForeignKey(
        Department, verbose_name=_("部门"), null=True, blank=True, on_delete=models.PROTECT, related_name="assignments"
    )

    class Meta:
        verbose_name = _("角色分配")
        verbose_name_plural = _("角色分配")
        ordering = ["node__path", "role"]
        constraints = [
            models.UniqueConstraint(fields=["user", "role", "node"], name="roleassignment_unique"),
        ]
        indexes = [models.Index(fields=["node", "role"], name="roleassignment_node_role_idx")]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.node}"


class SecondFactor(BaseModel):
    """A user's second sign-in factor: a TOTP key (RFC 6238: 6 digits, 30 s) and one-time recovery codes.

    Administrators must have one confirmed to sign in (jiedao.org.twofactor); anyone may add one.
    The key is sealed like a personal identifier (`secret_enc`, jiedao.core.sealed: encrypted,
    bound to this row, rotated with the keyring); recovery codes are kept only as SHA-256 digests.
    `last_step` is the newest time step accepted, so a code is never accepted twice.
    """

    scope_path_field = "user__home_node__path"

    user = models.OneToOneField(User, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="second_factor")
    secret_enc = models.TextField(_("密钥（密文）"))
    confirmed_at = models.DateTimeField(_("启用时间"), null=True, blank=True)
    last_step = models.BigIntegerField(_("最近使用的时间步"), default=0)
    recovery_digests = models.JSONField(_("恢复码摘要"), default=list, blank=True)
    # Set only by the demo seeder: `jiedao twofactor code` prints the current code of such a demo
    # account, so the demo can be tried without an authenticator app. Never set otherwise.
    is_demo = models.BooleanField(_("演示账号"), default=False)

    class Meta:
        verbose_name = _("两步验证")
        verbose_name_plural = _("两步验证")

    def __str__(self) -> str:
        return f"{self.user} · {_('两步验证')}"
