"""Reads of 信访 petitions, every one narrowed by the one scoping function (jiedao.core.scope):
lists with their filters, single objects (404 when out of scope), likely repeats, the 销号
campaign board, the 重点信访人员 due list, and the figures in the seeds' terms (信访总量 件/人次,
按期受理率, 按期办结率, 重复信访件, 销号数; defined in docs/figures.md § 信访)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.core import scope
from jiedao.core.permissions import Perm
from jiedao.core.scope import subtree_range
from jiedao.org.models import OrgNode
from jiedao.petitions.models import (
    KeyPersonPlan,
    MatterStage,
    Petition,
    Petitioner,
    PetitionState,
    RepeatCandidate,
    RepeatedMatter,
)

V = Perm.VIEW_PETITIONS
OVERDUE_FILTERS = ("accept", "conclude", "review", "recheck", "any")


def _today() -> date:
    return timezone.localdate()


# --- petitions ----------------------------------------------------------------------------------


def petitions_visible(user: Any) -> QuerySet[Petition]:
    return scope.restrict(Petition.objects.all(), user, V)


def _with_matter_seen(qs: QuerySet[Petition], user: Any) -> QuerySet[Petition]:
    """`matter_seen`: the petition's repeated matter is visible to the user. A matter may lie in
    another community (it takes the earlier petition's place and title); then neither the matter
    nor the 重复件 mark is shown, so a hidden earlier petition is not revealed."""
    return qs.annotate(matter_seen=Exists(
        scope.restrict(RepeatedMatter.objects.filter(pk=OuterRef("matter_id")), user, V)))


def petition_get(user: Any, pk: Any) -> Petition:
    qs = Petition.objects.select_related("node", "community", "subdistrict", "department", "unit_node", "case",
                                         "matter", "created_by")
    return scope.get_scoped(_with_matter_seen(qs, user), user, V, pk=pk)


def overdue_q(kind: str, today: date) -> Q:
    """Petitions past a time limit without the step being done (Petition.overdue_flags as a filter)."""
    parts = {
        "accept": Q(state=PetitionState.REGISTERED, accept_due__lt=today),
        "conclude": Q(state=PetitionState.HANDLING, conclude_due__lt=today),
        "review": Q(state=PetitionState.REVIEWING, review_due__lt=today),
        "recheck": Q(state=PetitionState.RECHECKING, recheck_due__lt=today),
    }
    if kind == "any":
        out = Q()
        for part in parts.values():
            out |= part
        return out
    return parts[kind]


def petition_list(user: Any, *, state: str = "", channel: str = "", overdue: str = "", community: Any = None,
                  text: str = "", repeat: bool | None = None, node: OrgNode | None = None,
                  received_from: date | None = None, received_to: date | None = None) -> QuerySet[Petition]:
    qs = _with_matter_seen(petitions_visible(user).select_related("node", "community", "department", "unit_node"),
                           user)
    if state:
        qs = qs.filter(state=state)
    if channel:
        qs = qs.filter(channel=channel)
    if overdue in OVERDUE_FILTERS:
        qs = qs.filter(overdue_q(overdue, _today()))
    if community is not None:
        qs = qs.filter(community=community)
    if node is not None:
        qs = qs.filter(node__path__range=subtree_range(node.path))
    if repeat is not None:
        qs = qs.filter(is_repeat=repeat)
    if received_from:
        qs = qs.filter(received_on__gte=received_from)
    if received_to:
        qs = qs.filter(received_on__lte=received_to)
    text = "".join((text or "").split())
    if text:
        qs = qs.filter(Q(code__icontains=text) | Q(title__icontains=text) | Q(content__icontains=text)
                       | Q(petitioners__name__icontains=text)).distinct()
    return qs.order_by("-received_on", "-pk")


def petition_history(petition: Petition) -> QuerySet:
    return petition.transitions.select_related("actor").order_by("seq")


def petition_petitioners(petition: Petition) -> list[Petitioner]:
    return list(petition.petitioners.select_related("resident").order_by("pk"))


def candidates_for(user: Any, petition: Petition) -> list[RepeatCandidate]:
    """The likely repeats of a petition, as far as the user sees the earlier petitions."""
    visible = petitions_visible(user).values("pk")
    return list(RepeatCandidate.objects.filter(petition=petition, earlier__in=visible)
                .select_related("earlier", "earlier__matter", "decided_by").order_by("-score", "pk"))


def candidate_get(user: Any, pk: Any) -> RepeatCandidate:
    """A likely repeat, found only when the user sees both petitions (the earlier one may lie in
    another community: out of scope there means 404, as if missing)."""
    qs = RepeatCandidate.objects.filter(earlier__in=petitions_visible(user).values("pk"))
    return scope.get_scoped(qs.select_related("petition", "earlier"), user, V, pk=pk)


def communities(user: Any) -> QuerySet[OrgNode]:
    """The communities and villages the user sees petitions of (filter choices)."""
    qs = OrgNode.objects.filter(kind__in=["community", "village"], is_active=True)
    return scope.restrict(qs, user, V).order_by("path")


# --- petitioners ----------------------------------------------------------------------------------


def petitioners_visible(user: Any) -> QuerySet[Petitioner]:
    return scope.restrict(Petitioner.objects.all(), user, V)


def petitioner_get(user: Any, pk: Any) -> Petitioner:
    return scope.get_scoped(Petitioner.objects.select_related("node", "resident"), user, V, pk=pk)


def petitioner_list(user: Any, *, text: str = "", key_only: bool = False) -> QuerySet[Petitioner]:
    """Petitioners by a fragment of the name (never a number: a full ID number is found through
    the audited people lookup; docs/architecture.md, "Sealed identifiers")."""
    visible = petitions_visible(user).values("pk")
    qs = petitioners_visible(user).select_related("node").annotate(
        petition_count=Count("petitions", filter=Q(petitions__in=visible), distinct=True))
    text = "".join((text or "").split())
    if text:
        qs = qs.filter(name__icontains=text)
    if key_only:
        qs = qs.filter(is_key=True)
    return qs.order_by("name", "pk")


def petitioner_petitions(user: Any, petitioner: Petitioner) -> QuerySet[Petition]:
    return _with_matter_seen(petitions_visible(user).filter(petitioners=petitioner), user).order_by(
        "-received_on", "-pk")


def responsible_choices(node: OrgNode) -> list[Any]:
    """The users who may be a 重点信访人员's responsible person there: the community staff and
    secretaries of the communities above the node, and the sub-district's leaders."""
    from jiedao.core.permissions import Role
    from jiedao.org.models import RoleAssignment, User

    prefixes = [node.path[:n] for n in range(scope.PATH_SEGMENT, len(node.path) + 1, scope.PATH_SEGMENT)]
    ids = RoleAssignment.objects.filter(
        node__path__in=prefixes, role__in=[Role.COMMUNITY_STAFF, Role.COMMUNITY_SECRETARY, Role.LEADER],
    ).values("user_id")
    return list(User.objects.filter(pk__in=ids, is_active=True).order_by("username")[:200])


def key_plan(petitioner: Petitioner) -> KeyPersonPlan | None:
    return KeyPersonPlan.objects.filter(petitioner=petitioner).select_related("responsible").first()


def key_plan_get(user: Any, pk: Any) -> KeyPersonPlan:
    return scope.get_scoped(KeyPersonPlan.objects.select_related("petitioner__node", "responsible"), user, V, pk=pk)


def key_plans(user: Any, *, due_within: int | None = None, stability: str = "") -> QuerySet[KeyPersonPlan]:
    """The 重点信访人员 under follow-up (not ended), the most overdue contact first; `due_within`
    days keeps those whose next contact falls due by then (0: due today or overdue)."""
    qs = scope.restrict(KeyPersonPlan.objects.filter(ended_on__isnull=True), user, V)
    if due_within is not None:
        qs = qs.filter(next_due__lte=_today() + timedelta(days=due_within))
    if stability:
        qs = qs.filter(stability=stability)
    return qs.select_related("petitioner", "petitioner__node", "responsible").order_by("next_due", "pk")


# --- the 销号 campaign ------------------------------------------------------------------------------


def matters_visible(user: Any) -> QuerySet[RepeatedMatter]:
    return scope.restrict(RepeatedMatter.objects.all(), user, V)


def matter_get(user: Any, pk: Any) -> RepeatedMatter:
    return scope.get_scoped(RepeatedMatter.objects.select_related("node", "community", "diagnosed_by",
                                                                  "approved_by"), user, V, pk=pk)


def matter_list(user: Any, *, stage: str = "", community: Any = None) -> QuerySet[RepeatedMatter]:
    visible = petitions_visible(user).values("pk")
    qs = matters_visible(user).select_related("community").annotate(
        petition_count=Count("petitions", filter=Q(petitions__in=visible), distinct=True))
    if stage:
        qs = qs.filter(stage=stage)
    if community is not None:
        qs = qs.filter(community=community)
    return qs.order_by("stage", "-pk")


@dataclass
class CampaignRow:
    community: str
    community_id: int | None
    diagnosing: int = 0
    planned: int = 0
    struck_off: int = 0

    @property
    def total(self) -> int:
        return self.diagnosing + self.planned + self.struck_off


def campaign_board(user: Any) -> list[CampaignRow]:
    """Per community: how many repeated matters wait for their 体检会诊, are being resolved, are
    struck off (销号). The last row is the total."""
    rows: dict[Any, CampaignRow] = {}
    counts = matters_visible(user).values("community_id", "community__name", "stage").annotate(n=Count("pk"))
    for c in counts.order_by("community__path"):
        row = rows.setdefault(c["community_id"], CampaignRow(c["community__name"] or "—", c["community_id"]))
        setattr(row, c["stage"], getattr(row, c["stage"]) + c["n"])
    out = list(rows.values())
    total = CampaignRow(_("合计"), None, sum(r.diagnosing for r in out), sum(r.planned for r in out),
                        sum(r.struck_off for r in out))
    return [*out, total]


# --- figures ------------------------------------------------------------------------------------------


@dataclass
class Figures:
    total: int  # 信访总量（件）
    people: int  # 信访总量（人次）
    accept_due: int  # 按期受理率 denominator
    accept_on_time: int
    conclude_due: int  # 按期办结率 denominator
    conclude_on_time: int
    repeats: int  # 重复信访件
    struck_off: int  # 销号数

    @property
    def accept_rate(self) -> float | None:
        return self.accept_on_time / self.accept_due if self.accept_due else None

    @property
    def conclude_rate(self) -> float | None:
        return self.conclude_on_time / self.conclude_due if self.conclude_due else None


def figures(user: Any, node: OrgNode | None, start: date, end: date, *, today: date | None = None) -> Figures:
    """The figures of docs/figures.md § 信访 for the petitions received from `start` to `end`
    (inclusive) under `node`, within the user's petitions scope; 销号数 counts the matters struck
    off in that period."""
    today = today or _today()
    qs = petitions_visible(user).filter(received_on__gte=start, received_on__lte=end)
    matters = matters_visible(user).filter(stage=MatterStage.STRUCK_OFF, struck_off_on__gte=start,
                                           struck_off_on__lte=end)
    if node is not None:
        qs = qs.filter(node__path__range=subtree_range(node.path))
        matters = matters.filter(node__path__range=subtree_range(node.path))
    accept_due = Q(decided_on__isnull=False) | Q(accept_due__lt=today)
    conclude_due = Q(conclude_due__isnull=False) & (Q(replied_on__isnull=False) | Q(conclude_due__lt=today))
    row = qs.aggregate(
        total=Count("pk"), people=Sum("people_count"),
        n_accept_due=Count("pk", filter=accept_due),
        accept_on_time=Count("pk", filter=Q(decided_on__isnull=False, decided_on__lte=F("accept_due"))),
        n_conclude_due=Count("pk", filter=conclude_due),
        conclude_on_time=Count("pk", filter=Q(conclude_due__isnull=False, replied_on__isnull=False,
                                              replied_on__lte=F("conclude_due"))),
        repeats=Count("pk", filter=Q(is_repeat=True)),
    )
    return Figures(total=row["total"], people=row["people"] or 0, accept_due=row["n_accept_due"],
                   accept_on_time=row["accept_on_time"], conclude_due=row["n_conclude_due"],
                   conclude_on_time=row["conclude_on_time"], repeats=row["repeats"], struck_off=matters.count())


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def panel_figures(user: Any, node: OrgNode | None, start: date, end: date) -> list[tuple[str, str, str | None]]:
    """(label, value text, link) of the dashboard's 信访 panel (docs/figures.md § 信访)."""
    f = figures(user, node, start, end)
    query = {"received_from": start.isoformat(), "received_to": end.isoformat()}
    if node is not None:
        query["node"] = str(node.pk)
    base = reverse("petitions:list")
    return [
        (_("信访总量（件）"), str(f.total), f"{base}?{urlencode(query)}"),
        (_("信访总量（人次）"), str(f.people), None),
        (_("按期受理率"), percent(f.accept_rate), None),
        (_("按期办结率"), percent(f.conclude_rate), None),
        (_("重复信访件"), str(f.repeats), f"{base}?{urlencode({**query, 'repeat': '1'})}"),
        (_("销号数"), str(f.struck_off), reverse("petitions:campaign")),
    ]
