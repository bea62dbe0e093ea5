"""Cases (诉求/事件/工单): the catalogue that routes them, the case itself, its transitions,
attachments, and the rollups that keep statistics current as cases move."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jiedao.core.models import BaseModel
from jiedao.org.models import Department, OrgNode


def user_assignments(user) -> list[tuple[str, int | None]]:
    """(role, department id) pairs of a user (cached: jiedao.core.scope.role_rows)."""
    from jiedao.core.scope import role_rows

    return [(role, department_id) for role, _path, _active, department_id in role_rows(user)]


# The longest description (and 办理结果, 区级答复) accepted: long enough for a real petition,
# which can run to several thousand characters.
DESCRIPTION_MAX = 10000


class Tier(models.TextChoices):
    """三事分流."""

    PUBLIC = "public", _("大事")
    COMMUNITY = "community", _("小事")
    PRIVATE = "private", _("私事")


class Source(models.TextChoices):
    DOOR_VISIT = "door_visit", _("入户走访")
    PATROL = "patrol", _("巡查")
    HOTLINE = "hotline", _("热线")
    SELF_REPORT = "self_report", _("居民自报")
    ENTERPRISE_VISIT = "enterprise_visit", _("企业走访")
    PETITION = "petition", _("信访")
    ASSIGNED = "assigned", _("上级交办")


class State(models.TextChoices):
    REPORTED = "reported", _("待受理")
    ACCEPTED = "accepted", _("已受理")
    REJECTED = "rejected", _("不予受理")
    DISPATCHED = "dispatched", _("已派遣")
    ACKNOWLEDGED = "acknowledged", _("已签收")
    IN_PROGRESS = "in_progress", _("办理中")
    RESOLVED = "resolved", _("已办结")
    VERIFIED = "verified", _("已核查")
    CLOSED = "closed", _("已结案")
    WITH_DISTRICT = "with_district", _("区级办理中")


class Level(models.IntegerChoices):
    """调处层级 (three-level handling network, plus the district)."""

    COMMUNITY = 1, _("村社直接化解")
    DEPARTMENT = 2, _("街道科室条线化解")
    JOINT_MEETING = 3, _("联席会议协调化解")
    DISTRICT = 4, _("区级")


class Urgency(models.TextChoices):
    NORMAL = "normal", _("一般")
    URGENT = "urgent", _("紧急")


class Rating(models.TextChoices):
    SATISFIED = "satisfied", _("满意")
    BASIC = "basic", _("基本满意")
    UNSATISFIED = "unsatisfied", _("不满意")


class LimitUnit(models.TextChoices):
    WORKING_DAYS = "working_days", _("工作日")
    WORKING_HOURS = "working_hours", _("工作小时")
    HOURS = "hours", _("自然小时")


class Category(BaseModel):
    """A case category of the catalogue, with its default tier, time limit and conditions.

    Two levels: groups (parent is None, e.g. 市容环境) and categories under them (暴露垃圾)."""

    parent = models.ForeignKey(
        "self", verbose_name=_("所属大类"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    default_tier = models.CharField(_("默认分流"), max_length=16, choices=Tier.choices, default=Tier.PUBLIC)
    time_limit = models.DecimalField(_("办理时限"), max_digits=6, decimal_places=1, default=5)
    time_limit_unit = models.CharField(
        _("时限单位"), max_length=16, choices=LimitUnit.choices, default=LimitUnit.WORKING_DAYS
    )
    accept_conditions = models.CharField(_("受理条件"), max_length=300, blank=True)
    close_conditions = models.CharField(_("结案条件"), max_length=300, blank=True)
    keywords = models.CharField(_("关键词"), max_length=300, blank=True, help_text=_("以空格分隔，用于分类建议"))
    sort_order = models.PositiveIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("事项类别")
        verbose_name_plural = _("事项类别")
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name


class RoutingRule(BaseModel):
    """Who handles a category in a part of the tree: the most specific (deepest) node wins.

    With no department, the community (or village) where the case happened handles it."""

    scope_path_field = "node__path"

    category = models.ForeignKey(Category, verbose_name=_("类别"), on_delete=models.CASCADE, related_name="rules")
    node = models.ForeignKey(OrgNode, verbose_name=_("适用范围"), on_delete=models.CASCADE, related_name="+")
    department = models.ForeignKey(
        Department, verbose_name=_("承办部门"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = _("派遣规则")
        verbose_name_plural = _("派遣规则")
        constraints = [models.UniqueConstraint(fields=["category", "node"], name="routingrule_unique")]

    def __str__(self) -> str:
        return f"{self.category} @ {self.node} → {self.department or '属地社区'}"


class Case(BaseModel):
    """One request, event or work order, from intake to closure (销号).

    `state` only changes through jiedao.cases.services.case_act (the core workflow machine), which compares and sets
    it together with `version`; `org_path` copies the node's path so the scoping range scan
    needs no join on this, the largest table; `subdistrict` allows partitioning."""

    scope_path_field = "org_path"
    audit_exclude = ("reporter_phone_enc", "reporter_phone_index")

    # Date plus 8 random characters: residents look cases up by it, so it must not be guessable.
    ticket = models.CharField(_("编号"), max_length=24, unique=True)
    source = models.CharField(_("来源"), max_length=20, choices=Source.choices)
    category = models.ForeignKey(
        Category, verbose_name=_("类别"), null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    # The category the case was filed under at intake (chosen, or filed by a confident suggestion);
    # `category` may change later. Kept to measure how often staff override the classifier.
    filed_category = models.ForeignKey(
        Category, verbose_name=_("登记时类别"), null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        db_index=False,
    )
    tier = models.CharField(_("分流"), max_length=16, choices=Tier.choices, blank=True)
    # A case filed by another domain for the staff only (a safety hazard escalated into joint
    # enforcement names the business): never shown by the public reads (selectors.public_case_q).
    internal = models.BooleanField(_("仅内部流转"), default=False, db_default=False)
    urgency = models.CharField(_("紧急程度"), max_length=8, choices=Urgency.choices, default=Urgency.NORMAL)
    state = models.CharField(_("状态"), max_length=16, choices=State.choices, default=State.REPORTED)
    version = models.PositiveIntegerField(_("版本"), default=0)

    node = models.ForeignKey(OrgNode, verbose_name=_("所在网格"), on_delete=models.PROTECT, related_name="cases")
    org_path = models.CharField(_("组织路径"), max_length=40)
    subdistrict = models.ForeignKey(
        OrgNode, verbose_name=_("所属街道"), null=True, on_delete=models.PROTECT, related_name="+"
    )
    community = models.ForeignKey(
        OrgNode, verbose_name=_("所属社区（村）"), null=True, on_delete=models.PROTECT, related_name="+"
    )
    grid = models.ForeignKey(
        OrgNode, verbose_name=_("所属网格"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    building = models.ForeignKey(
        OrgNode, verbose_name=_("楼栋"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    household = models.ForeignKey(
        "people.Household", verbose_name=_("户"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resident = models.ForeignKey(
        "people.Resident", verbose_name=_("居民"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    latitude = models.DecimalField(_("纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    address = models.CharField(_("地点"), max_length=200, blank=True)
    title = models.CharField(_("标题"), max_length=100)
    description = models.TextField(_("描述"), max_length=DESCRIPTION_MAX)

    anonymous = models.BooleanField(_("匿名"), default=False)
    reporter_name = models.CharField(_("反映人"), max_length=64, blank=True)
    reporter_phone_enc = models.TextField(_("反映人电话（密文）"), blank=True)
    reporter_phone_masked = models.CharField(_("反映人电话"), max_length=24, blank=True)
    # Blind index (keyed hash) of the phone: finds a repeat caller's earlier cases without
    # decrypting anything (jiedao.core.sealed).
    reporter_phone_index = models.CharField(_("反映人电话索引"), max_length=64, blank=True, db_index=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )

    level = models.PositiveSmallIntegerField(_("调处层级"), choices=Level.choices, default=Level.COMMUNITY)
    resolved_level = models.PositiveSmallIntegerField(_("化解层级"), choices=Level.choices, null=True, blank=True)
    handling_department = models.ForeignKey(
        Department, verbose_name=_("承办部门"), null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    handling_node = models.ForeignKey(
        OrgNode, verbose_name=_("承办社区"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    accepted_at = models.DateTimeField(_("受理时间"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("派遣时间"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("签收时间"), null=True, blank=True)
    deadline_at = models.DateTimeField(_("办理期限"), null=True, blank=True, db_index=True)
    # The deadline falls in a year whose holiday table is not declared complete: an estimate
    # (weekends only, plus any dates already entered) until an administrator completes the year.
    deadline_estimated = models.BooleanField(_("期限为估算"), default=False)
    deferred_at = models.DateTimeField(_("缓办批准时间"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)
    result = models.TextField(_("办理结果"), max_length=4000, blank=True)
    guidance = models.TextField(_("引导意见"), max_length=2000, blank=True)

    rating = models.CharField(_("评价"), max_length=16, choices=Rating.choices, blank=True)
    rating_comment = models.CharField(_("评价意见"), max_length=500, blank=True)
    rated_at = models.DateTimeField(_("评价时间"), null=True, blank=True)
    # The latest 回访 (follow-up) answers, as 12345 records them: was the resident contacted in
    # time, is the problem solved in the resident's judgement, how satisfied (`rating`).
    contacted_in_time = models.BooleanField(_("及时联系"), null=True, blank=True)
    solved = models.BooleanField(_("问题已解决"), null=True, blank=True)

    # 区级 (level 4): the hand-over to the district and its reply.
    district_ref = models.CharField(_("区级受理编号"), max_length=64, blank=True)
    district_sent_at = models.DateTimeField(_("移交区级时间"), null=True, blank=True)
    district_reply = models.TextField(_("区级答复"), max_length=DESCRIPTION_MAX, blank=True)
    district_replied_at = models.DateTimeField(_("区级答复时间"), null=True, blank=True)

    return_count = models.PositiveSmallIntegerField(_("退回次数"), default=0)
    rework_count = models.PositiveSmallIntegerField(_("返工次数"), default=0)
    reopen_count = models.PositiveSmallIntegerField(_("重办次数"), default=0)
    supervise_count = models.PositiveSmallIntegerField(_("督办次数"), default=0)
    escalation_count = models.PositiveSmallIntegerField(_("上报次数"), default=0)
    difficult = models.BooleanField(_("疑难"), default=False)
    sla_status = models.CharField(_("时限状态"), max_length=8, blank=True,
                                  choices=[("", _("正常")), ("near", _("即将到期")), ("overdue", _("已超期"))])
    merged_into = models.ForeignKey(
        "self", verbose_name=_("并入"), null=True, blank=True, on_delete=models.SET_NULL, related_name="merged"
    )

    class Meta:
        verbose_name = _("诉求事件")
        verbose_name_plural = _("诉求事件")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["org_path", "state"], name="case_path_state_idx"),
            models.Index(fields=["subdistrict", "created_at"], name="case_subdistrict_created_idx"),
            models.Index(fields=["handling_department", "state"], name="case_department_state_idx"),
            models.Index(fields=["state", "deadline_at"], name="case_state_deadline_idx"),
            # The overdue lists (dashboard): most urgent first at wide scopes, a path range at narrow ones.
            models.Index(fields=["sla_status", "deadline_at"], name="case_sla_deadline_idx"),
            models.Index(fields=["sla_status", "org_path"], name="case_sla_path_idx"),
            # The case list (selectors.case_page): a scope's newest cases in id order, a page at a
            # time; org_path last so the scope is checked on the index (without it PostgreSQL
            # prefers a covering filter index and sorts the whole place).
            models.Index(fields=["subdistrict", "id", "org_path"], name="case_subdistrict_id_idx"),
            models.Index(fields=["community", "id", "org_path"], name="case_community_id_idx"),
            models.Index(fields=["grid", "id", "org_path"], name="case_grid_id_idx"),
            # Its filters (selectors._streams): the newest cases of one state, tier or category (or
            # one way of being "mine"), district-wide or in one sub-district, a page at a time;
            # org_path last, so the scope is checked (and the first page counted) on the index alone.
            models.Index(fields=["state", "id", "org_path"], name="case_state_id_idx"),
            models.Index(fields=["subdistrict", "state", "id", "org_path"], name="case_sub_state_id_idx"),
            models.Index(fields=["tier", "id", "org_path"], name="case_tier_id_idx"),
            models.Index(fields=["subdistrict", "tier", "id", "org_path"], name="case_sub_tier_id_idx"),
            models.Index(fields=["category", "id", "org_path"], name="case_category_id_idx"),
            models.Index(fields=["subdistrict", "category", "id", "org_path"], name="case_sub_category_id_idx"),
            models.Index(fields=["reported_by", "id"], name="case_reporter_id_idx"),
            models.Index(fields=["handling_department", "id"], name="case_department_id_idx"),
            models.Index(fields=["handling_node", "id"], name="case_handling_node_id_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket} {self.title}"

    @staticmethod
    def scope_extra_q(user, perm):
        """Department handlers see the cases dispatched to their departments, wherever they are."""
        from jiedao.core.permissions import Perm, Role

        if perm != Perm.VIEW_CASES or not getattr(user, "is_authenticated", False):
            return None
        departments = [
            d for r, d in user_assignments(user) if r == Role.DEPARTMENT_HANDLER and d is not None
        ]
        return models.Q(handling_department__in=departments) if departments else None


class CaseText(models.Model):
    """The search terms of a case's title and description (distinct characters and character
    bigrams, `jiedao.cases.search.terms`), one row per case, written with the case by the code
    that creates it. Full-text indexed: an FTS5 table kept in step by triggers on SQLite, a GIN
    index on PostgreSQL (migration 0011_case_text_index); searched only through a scoped read."""

    case = models.OneToOneField(Case, verbose_name=_("事项"), on_delete=models.CASCADE, primary_key=True,
                                related_name="text_index")
    terms = models.TextField(_("检索词"))

    class Meta:
        verbose_name = _("事项检索词")
        verbose_name_plural = _("事项检索词")

    def __str__(self) -> str:
        return f"{self.case_id}"


class CaseTransition(models.Model):
    """One step of a case's life: who did what, from which state to which, why, when."""

    case = models.ForeignKey(Case, verbose_name=_("事项"), on_delete=models.CASCADE, related_name="transitions")
    seq = models.PositiveIntegerField(_("序号"))
    action = models.CharField(_("动作"), max_length=20)
    from_state = models.CharField(_("原状态"), max_length=16, choices=State.choices)
    to_state = models.CharField(_("新状态"), max_length=16, choices=State.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_repr = models.CharField(_("操作人名称"), max_length=150)
    reason = models.CharField(_("说明"), max_length=2000, blank=True)
    data = models.JSONField(_("附加信息"), default=dict, blank=True)
    created_at = models.DateTimeField(_("时间"))

    class Meta:
        verbose_name = _("流转记录")
        verbose_name_plural = _("流转记录")
        ordering = ["case_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["case", "seq"], name="casetransition_seq_unique")]

    def __str__(self) -> str:
        return f"{self.case_id}#{self.seq} {self.action}"


class CaseAttachment(BaseModel):
    """A photo or file attached to a case (type and size checked on upload)."""

    case = models.ForeignKey(Case, verbose_name=_("事项"), on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(_("文件"), upload_to="cases/%Y/%m/")
    original_name = models.CharField(_("文件名"), max_length=200)
    content_type = models.CharField(_("类型"), max_length=100)
    size = models.PositiveIntegerField(_("大小"))
    is_photo = models.BooleanField(_("照片"), default=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("上传人"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("附件")
        verbose_name_plural = _("附件")

    def __str__(self) -> str:
        return self.original_name


# What the rollups count, per case and by the book (docs/figures.md; computed for one case by
# jiedao.cases.statistics.figures.case_figures): every figure counts CASES, each in the month of
# the timestamp that defines it, so a rework or a reopen moves a figure and never adds to it.
COUNTER_LABELS = (
    ("reported", _("登记")), ("accepted", _("受理")), ("rejected", _("不予受理")), ("merged", _("合并")),
    ("dispatched", _("派遣")), ("acknowledged_in_time", _("及时签收")), ("returned", _("退回")),
    ("reworked", _("返工")), ("reopened", _("重办")),
    ("resolved", _("办结")), ("resolved_level1", _("村社化解")), ("resolved_level2", _("科室化解")),
    ("resolved_level3", _("联席会议化解")), ("resolved_level4", _("区级化解")),
    ("due", _("到期应办结")), ("due_resolved", _("到期已办结")), ("on_time", _("按期办结")),
    ("due_closed", _("到期已结案")), ("deferred", _("缓办")), ("closed", _("结案")),
    ("followed_up", _("有效回访")), ("contacted", _("及时联系")), ("solved", _("已解决")),
    ("satisfied", _("满意")), ("basic", _("基本满意")), ("unsatisfied", _("不满意")),
)


class StatCounters(models.Model):
    """The rollup counters (COUNTER_LABELS), shared by the delta and every rollup table. Plain
    integers: deltas are negative when a case's figure moves away from a month or key."""

    reported = models.IntegerField(_("登记"), default=0)
    accepted = models.IntegerField(_("受理"), default=0)
    rejected = models.IntegerField(_("不予受理"), default=0)
    merged = models.IntegerField(_("合并"), default=0)
    dispatched = models.IntegerField(_("派遣"), default=0)
    acknowledged_in_time = models.IntegerField(_("及时签收"), default=0)
    returned = models.IntegerField(_("退回"), default=0)
    reworked = models.IntegerField(_("返工"), default=0)
    reopened = models.IntegerField(_("重办"), default=0)
    resolved = models.IntegerField(_("办结"), default=0)
    resolved_level1 = models.IntegerField(_("村社化解"), default=0)
    resolved_level2 = models.IntegerField(_("科室化解"), default=0)
    resolved_level3 = models.IntegerField(_("联席会议化解"), default=0)
    resolved_level4 = models.IntegerField(_("区级化解"), default=0)
    due = models.IntegerField(_("到期应办结"), default=0)
    due_resolved = models.IntegerField(_("到期已办结"), default=0)
    on_time = models.IntegerField(_("按期办结"), default=0)
    due_closed = models.IntegerField(_("到期已结案"), default=0)
    deferred = models.IntegerField(_("缓办"), default=0)
    closed = models.IntegerField(_("结案"), default=0)
    followed_up = models.IntegerField(_("有效回访"), default=0)
    contacted = models.IntegerField(_("及时联系"), default=0)
    solved = models.IntegerField(_("已解决"), default=0)
    satisfied = models.IntegerField(_("满意"), default=0)
    basic = models.IntegerField(_("基本满意"), default=0)
    unsatisfied = models.IntegerField(_("不满意"), default=0)

    class Meta:
        abstract = True


class CaseStat(StatCounters):
    """Fine rollup counters per month, org node (grid or community) and category, kept current
    as cases move (through CaseStatDelta and the fold job, see jiedao.cases.statistics.rollups), so rates
    and dashboards never scan the case table. Plain integers like the other rollups: a fold adds
    the (possibly negative) sum of pending deltas, and a CHECK (>= 0) on the proposed row of an
    upsert would refuse a negative sum before it is added to the existing row."""

    month = models.DateField(_("月份"))
    node = models.ForeignKey(OrgNode, verbose_name=_("网格"), on_delete=models.CASCADE, related_name="+")
    org_path = models.CharField(_("组织路径"), max_length=40)
    subdistrict = models.ForeignKey(OrgNode, verbose_name=_("所属街道"), null=True, on_delete=models.CASCADE,
                                    related_name="+")
    community = models.ForeignKey(OrgNode, verbose_name=_("所属社区（村）"), null=True, on_delete=models.CASCADE,
                                  related_name="+")
    category = models.ForeignKey(Category, verbose_name=_("类别"), null=True, on_delete=models.CASCADE,
                                 related_name="+")

    class Meta:
        verbose_name = _("事项统计")
        verbose_name_plural = _("事项统计")
        constraints = [
            models.UniqueConstraint(fields=["month", "node", "category"], name="casestat_key_unique"),
            # Uncategorised rows: NULLs never conflict in the key above, the fold upserts on this.
            models.UniqueConstraint(fields=["month", "node"], condition=models.Q(category__isnull=True),
                                    name="casestat_uncategorised_unique"),
        ]
        indexes = [models.Index(fields=["subdistrict", "month"], name="casestat_subdistrict_month_idx"),
                   models.Index(fields=["month", "org_path"], name="casestat_month_path_idx"),
                   models.Index(fields=["node", "month"], name="casestat_node_month_idx")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.node_id} {self.category_id}"


class Notification(models.Model):
    """A message for a user (deadline warnings, decisions); shown on their home page."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("接收人"), on_delete=models.CASCADE,
                             related_name="notifications")
    case = models.ForeignKey(Case, verbose_name=_("事项"), null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    kind = models.CharField(_("类型"), max_length=20)
    message = models.CharField(_("内容"), max_length=300)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["user", "case", "kind"], name="notification_once")]

    def __str__(self) -> str:
        return self.message


class WeeklyDigest(models.Model):
    """周集: what a grid or community collected in one week (new, carried over, by category,
    tier and state), generated on schedule every Monday and on demand."""

    scope_path_field = "node__path"

    node = models.ForeignKey(OrgNode, verbose_name=_("网格/社区"), on_delete=models.CASCADE, related_name="+")
    week_start = models.DateField(_("周一"))
    data = models.JSONField(_("内容"), default=dict)
    generated_at = models.DateTimeField(_("生成时间"))

    class Meta:
        verbose_name = _("周集")
        verbose_name_plural = _("周集")
        ordering = ["-week_start", "node_id"]
        constraints = [models.UniqueConstraint(fields=["node", "week_start"], name="weeklydigest_unique")]

    def __str__(self) -> str:
        return f"{self.node} {self.week_start}"


class Deliberation(BaseModel):
    """月议: a community's monthly residents' representatives deliberation meeting."""

    scope_path_field = "community__path"

    class Status(models.TextChoices):
        DRAFT = "draft", _("筹备中")
        HELD = "held", _("已召开")

    community = models.ForeignKey(OrgNode, verbose_name=_("社区（村）"), on_delete=models.PROTECT, related_name="+")
    month = models.DateField(_("月份"))
    held_at = models.DateTimeField(_("召开时间"), null=True, blank=True)
    location = models.CharField(_("地点"), max_length=100, blank=True)
    host = models.CharField(_("主持人"), max_length=64, blank=True)
    attendees = models.JSONField(_("参会人员"), default=list, blank=True,
                                 help_text=_("[{\"name\": \"张三\", \"role\": \"居民代表\"}, …]"))
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices, default=Status.DRAFT)
    summary = models.TextField(_("会议纪要"), blank=True)

    class Meta:
        verbose_name = _("月议")
        verbose_name_plural = _("月议")
        ordering = ["-month"]
        constraints = [models.UniqueConstraint(fields=["community", "month"], name="deliberation_unique")]

    def __str__(self) -> str:
        return f"{self.community} {self.month:%Y-%m} 月议"


class DeliberationItem(models.Model):
    """One agenda item of a deliberation: a difficult or overdue case, its decision and follow-up."""

    meeting = models.ForeignKey(Deliberation, verbose_name=_("月议"), on_delete=models.CASCADE, related_name="items")
    case = models.ForeignKey(Case, verbose_name=_("事项"), on_delete=models.PROTECT, related_name="deliberations")
    why = models.CharField(_("列入原因"), max_length=100)
    decision = models.TextField(_("议定意见"), blank=True)
    owner = models.CharField(_("跟进责任人"), max_length=64, blank=True)
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("责任人账号"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    due_date = models.DateField(_("完成时限"), null=True, blank=True)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    sort_order = models.PositiveIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("月议事项")
        verbose_name_plural = _("月议事项")
        ordering = ["meeting_id", "sort_order", "id"]
        constraints = [models.UniqueConstraint(fields=["meeting", "case"], name="deliberationitem_unique")]

    def __str__(self) -> str:
        return f"{self.meeting} · {self.case.ticket}"


class QuarterlyReview(BaseModel):
    """季报告: the quarter-end item-by-item review of a community's cases (销号 or carry over)."""

    scope_path_field = "community__path"

    class Status(models.TextChoices):
        OPEN = "open", _("评估中")
        FINALIZED = "finalized", _("已定稿")

    community = models.ForeignKey(OrgNode, verbose_name=_("社区（村）"), on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField(_("年度"))
    quarter = models.PositiveSmallIntegerField(_("季度"))
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.OPEN)
    finalized_at = models.DateTimeField(_("定稿时间"), null=True, blank=True)
    figures = models.JSONField(_("统计"), default=dict, blank=True)

    class Meta:
        verbose_name = _("季度评估")
        verbose_name_plural = _("季度评估")
        ordering = ["-year", "-quarter"]
        constraints = [models.UniqueConstraint(fields=["community", "year", "quarter"], name="quarterlyreview_unique")]

    def __str__(self) -> str:
        return f"{self.community} {self.year}年第{self.quarter}季度"


class ReviewItem(models.Model):
    """A case in the quarterly review: struck off (销号) or carried over, with the reason."""

    class Verdict(models.TextChoices):
        PENDING = "", _("待评估")
        STRUCK_OFF = "struck_off", _("销号")
        CARRIED_OVER = "carried_over", _("结转下季")

    review = models.ForeignKey(QuarterlyReview, verbose_name=_("季度评估"), on_delete=models.CASCADE,
                               related_name="items")
    case = models.ForeignKey(Case, verbose_name=_("事项"), on_delete=models.PROTECT, related_name="reviews")
    verdict = models.CharField(_("结论"), max_length=16, choices=Verdict.choices, blank=True)
    reason = models.CharField(_("说明"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("评估事项")
        verbose_name_plural = _("评估事项")
        ordering = ["review_id", "case_id"]
        constraints = [models.UniqueConstraint(fields=["review", "case"], name="reviewitem_unique")]

    def __str__(self) -> str:
        return f"{self.review} · {self.case.ticket}"


class JointMeeting(BaseModel):
    """联席会议: the sub-district's joint meeting (信访联席会议, level 3 of 三级调处). Members come
    from the departments; its agenda is the cases escalated to level 3; each decision names the
    lead unit, the co-units and a deadline."""

    scope_path_field = "subdistrict__path"

    class Status(models.TextChoices):
        DRAFT = "draft", _("筹备中")
        HELD = "held", _("已召开")

    subdistrict = models.ForeignKey(OrgNode, verbose_name=_("街道"), on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("会议名称"), max_length=100)
    held_at = models.DateTimeField(_("召开时间"), null=True, blank=True)
    location = models.CharField(_("地点"), max_length=100, blank=True)
    host = models.CharField(_("主持人"), max_length=64, blank=True)
    members = models.ManyToManyField(Department, verbose_name=_("成员单位"), blank=True, related_name="+")
    status = models.CharField(_("状态"), max_length=8, choices=Status.choices, default=Status.DRAFT)
    summary = models.TextField(_("会议纪要"), blank=True)

    class Meta:
        verbose_name = _("联席会议")
        verbose_name_plural = _("联席会议")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.title

    @staticmethod
    def scope_extra_q(user, perm):
        """Department handlers see the meetings their departments sit on (as members)."""
        from jiedao.core.permissions import Perm, Role

        if perm != Perm.VIEW_CASES or not getattr(user, "is_authenticated", False):
            return None
        departments = [
            d for r, d in user_assignments(user) if r == Role.DEPARTMENT_HANDLER and d is not None
        ]
        if not departments:
            return None
        seats = JointMeeting.members.through.objects.filter(department_id__in=departments)
        return models.Q(pk__in=seats.values("jointmeeting_id"))


class JointMeetingItem(models.Model):
    """One escalated case on a joint meeting's agenda and the meeting's decision on it."""

    meeting = models.ForeignKey(JointMeeting, verbose_name=_("联席会议"), on_delete=models.CASCADE,
                                related_name="items")
    case = models.ForeignKey(Case, verbose_name=_("事项"), on_delete=models.PROTECT, related_name="joint_items")
    decision = models.TextField(_("会议决定"), blank=True)
    lead_department = models.ForeignKey(Department, verbose_name=_("牵头单位"), null=True, blank=True,
                                        on_delete=models.PROTECT, related_name="+")
    co_departments = models.ManyToManyField(Department, verbose_name=_("配合单位"), blank=True, related_name="+")
    due_date = models.DateField(_("办理时限"), null=True, blank=True)
    decided_at = models.DateTimeField(_("决定时间"), null=True, blank=True)
    sort_order = models.PositiveIntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("联席会议议题")
        verbose_name_plural = _("联席会议议题")
        ordering = ["meeting_id", "sort_order", "id"]
        constraints = [models.UniqueConstraint(fields=["meeting", "case"], name="jointmeetingitem_unique")]

    def __str__(self) -> str:
        return f"{self.meeting} · {self.case_id}"


class CasePolicy(BaseModel):
    """办件规则: what a sub-district sets for its cases — the composite score's weights, office
    hours for deadlines, and whether the person who resolved a case may also verify it. The row
    with no sub-district is the default for sub-districts without their own and for wider scopes."""

    subdistrict = models.OneToOneField(OrgNode, verbose_name=_("街道"), null=True, blank=True,
                                       on_delete=models.CASCADE, related_name="+")
    weight_response = models.DecimalField(_("响应率权重"), max_digits=4, decimal_places=3, default=Decimal("0.1"))
    weight_resolution = models.DecimalField(_("解决率权重"), max_digits=4, decimal_places=3, default=Decimal("0.5"))
    weight_satisfaction = models.DecimalField(_("满意率权重"), max_digits=4, decimal_places=3,
                                              default=Decimal("0.4"))
    weight_basic = models.DecimalField(_("基本满意折算"), max_digits=4, decimal_places=3, default=Decimal("0.9"))
    morning_start = models.TimeField(_("上午上班"), default=time(8, 30))
    morning_end = models.TimeField(_("上午下班"), default=time(12, 0))
    afternoon_start = models.TimeField(_("下午上班"), default=time(13, 30))
    afternoon_end = models.TimeField(_("下午下班"), default=time(17, 30))
    separate_verifier = models.BooleanField(_("办结人不得核查"), default=True,
                                            help_text=_("同一人不能既办结又核查同一事项"))

    class Meta:
        verbose_name = _("办件规则")
        verbose_name_plural = _("办件规则")
        constraints = [models.UniqueConstraint(fields=["subdistrict"], name="casepolicy_subdistrict_unique")]

    def __str__(self) -> str:
        return f"{self.subdistrict or '默认'} 办件规则"


# --- rollups at city scale -------------------------------------------------------------------
# CaseStat above is the fine rollup (month × grid × category). Intake and transitions never
# update it directly: they append CaseStatDelta rows (the change of the case's figures), and the fold job
# (jiedao.cases.statistics.rollups.fold, every few seconds) moves the deltas into CaseStat and the two
# coarse rollups below in one atomic step. Readers add the pending deltas to the folded rows in
# one SQL statement, so figures are exact before and after a fold. See docs/architecture.md.


class CaseStatDelta(StatCounters):
    """A pending change to the rollups: one row per month and key whose figures a step changed
    (negative where a figure left), appended and never updated, so concurrent intakes in one
    grid share no row. The fold job moves it into CaseStat,
    CaseStatArea and CaseStatAreaTotal and deletes it in the same statement."""

    id = models.BigAutoField(primary_key=True)
    month = models.DateField(_("月份"))
    node = models.ForeignKey(OrgNode, verbose_name=_("网格"), on_delete=models.CASCADE, related_name="+",
                             db_constraint=False)
    # The case's own path (its building, grid or community): readers filter and group pending
    # deltas by it without joining the org tree.
    org_path = models.CharField(_("组织路径"), max_length=40, default="")
    community_id = models.BigIntegerField(_("所属社区（村）"), null=True)
    subdistrict_id = models.BigIntegerField(_("所属街道"), null=True)
    category_id = models.BigIntegerField(_("类别"), null=True)

    class Meta:
        verbose_name = _("待汇总统计增量")
        verbose_name_plural = _("待汇总统计增量")

    def __str__(self) -> str:
        return f"Δ {self.month:%Y-%m} {self.node_id} {self.category_id}"


class CaseStatArea(StatCounters):
    """Coarse rollup per month, area node and category: one row for every community (or
    village), sub-district, district and city above the cases (and a community's own cases).
    `category_key` is the category id, 0 for uncategorised cases."""

    month = models.DateField(_("月份"))
    node = models.ForeignKey(OrgNode, verbose_name=_("区域"), on_delete=models.CASCADE, related_name="+",
                             db_constraint=False)
    path = models.CharField(_("组织路径"), max_length=40)
    kind = models.CharField(_("类型"), max_length=16)
    category_key = models.BigIntegerField(_("类别"))

    class Meta:
        verbose_name = _("区域分类统计")
        verbose_name_plural = _("区域分类统计")
        constraints = [models.UniqueConstraint(fields=["node", "month", "category_key"], name="casestatarea_key")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.path} {self.category_key}"


class CaseStatAreaTotal(StatCounters):
    """Coarsest rollup: per month and area node, all categories together — what totals, trend,
    resolution levels and rankings of districts, sub-districts and communities read."""

    month = models.DateField(_("月份"))
    node = models.ForeignKey(OrgNode, verbose_name=_("区域"), on_delete=models.CASCADE, related_name="+",
                             db_constraint=False)
    path = models.CharField(_("组织路径"), max_length=40)
    kind = models.CharField(_("类型"), max_length=16)

    class Meta:
        verbose_name = _("区域统计")
        verbose_name_plural = _("区域统计")
        constraints = [models.UniqueConstraint(fields=["node", "month"], name="casestatareatotal_key")]
        indexes = [models.Index(fields=["kind", "path", "month"], name="casestatareatotal_rank_idx")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.path}"


class Open311Extra(models.Model):
    """What an Open311 client sent with a request beyond the case's own fields (GeoReport v2
    POST): the photo link, and the submitter's e-mail, device and account ids, sealed like the
    reporter's phone (jiedao.core.sealed; registered in CasesConfig.ready). The photo is kept as a
    link only: the server runs offline and never fetches it."""

    case = models.OneToOneField(Case, verbose_name=_("事项"), primary_key=True, on_delete=models.CASCADE,
                                related_name="open311_extra")
    media_url = models.URLField(_("照片链接"), max_length=1000, blank=True)
    email_enc = models.TextField(_("电子邮箱（密文）"), blank=True)
    email_masked = models.CharField(_("电子邮箱"), max_length=254, blank=True)
    device_id_enc = models.TextField(_("设备标识（密文）"), blank=True)
    device_id_masked = models.CharField(_("设备标识"), max_length=200, blank=True)
    account_id_enc = models.TextField(_("账号标识（密文）"), blank=True)
    account_id_masked = models.CharField(_("账号标识"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    audit_exclude = ("email_enc", "device_id_enc", "account_id_enc")

    class Meta:
        verbose_name = _("Open311 附加信息")
        verbose_name_plural = _("Open311 附加信息")

    def __str__(self) -> str:
        return f"Open311 {self.case_id}"
