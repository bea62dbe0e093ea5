"""The 信访 petition list as an export job (core.exports): its columns and its rows from the stored
list filters, through the same scoped selector as the page (petitions.selectors.petition_list),
registered in PetitionsConfig.ready.

Petitioners are exported by name with their masked ID number and phone only (no clear export:
the kind has no reveal); the petition's content (信访事项), demands and reply are not exported —
the case text stays in the app."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from jiedao.core import exports, scope
from jiedao.core.permissions import Perm
from jiedao.org.models import OrgNode
from jiedao.petitions import selectors
from jiedao.petitions.models import OVERDUE_LABELS, Petitioner

DATE_FILTERS = ("received_from", "received_to")


def petitioner_mask(p: Petitioner) -> str:
    """One petitioner as the export shows them: the name and the masks (a resident's petitioner
    record holds the resident's masks, petitions.services.petitioner_for), never a clear identifier."""
    masks = "，".join(m for m in (p.id_number_masked, p.phone_masked) if m)
    return f"{p.name}（{masks}）" if masks else p.name


def petition_columns(today: date | None = None) -> list[exports.ExportColumn]:
    col = exports.ExportColumn
    day = today or timezone.localdate()

    def label(name: str) -> Any:
        return lambda p: str(getattr(p, f"get_{name}_display")()) if getattr(p, name) else ""

    return [
        col("信访编号", lambda p: p.code, width=20, text=True),
        col("收到日期", lambda p: p.received_on, width=12),
        col("信访形式", label("channel"), width=10),
        col("问题类别", label("category"), width=12),
        col("事项摘要", lambda p: p.title, width=30),
        col("事项发生地", lambda p: p.node.name, width=16),
        col("社区（村）", lambda p: p.community.name if p.community_id else "", width=14),
        col("信访人", lambda p: "；".join(petitioner_mask(x) for x in p.export_petitioners), width=36),
        col("集体访", lambda p: "是" if p.is_group else "", width=8),
        col("人数", lambda p: p.people_count, width=6),
        col("责任单位", lambda p: p.unit_name, width=16),
        col("状态", label("state"), width=10),
        col("受理告知期限", lambda p: p.accept_due, width=12),
        col("办结期限", lambda p: p.conclude_due, width=12),
        col("复查期限", lambda p: p.review_due, width=12),
        col("复核期限", lambda p: p.recheck_due, width=12),
        col("逾期", lambda p: "、".join(str(OVERDUE_LABELS[k]) for k in p.overdue_flags(day)), width=14),
        # the 重复件 mark only where the page shows it (the matter in the viewer's scope)
        col("重复信访", lambda p: "是" if p.is_repeat and getattr(p, "matter_seen", False) else "", width=8),
    ]


def petition_rows(actor: Any, filters: dict[str, Any], reveal: bool) -> tuple[Any, list[exports.ExportColumn]]:
    """The list's rows for an export job. A place deleted since fails the job (DoesNotExist) rather
    than widening the export; the rows are the actor's scope whatever the filters."""
    args = dict(filters)
    for key in ("community", "node"):
        if args.get(key):
            args[key] = OrgNode.objects.get(pk=args[key])
    for key in DATE_FILTERS:
        if args.get(key):
            args[key] = date.fromisoformat(args[key])
    qs = selectors.petition_list(actor, **args).prefetch_related(Prefetch(
        "petitioners", queryset=Petitioner.objects.order_by("pk"),
        to_attr="export_petitioners"))
    return qs, petition_columns()


def encode(filters: dict[str, Any]) -> dict[str, Any]:
    """The page's filters as the job stores them (dates as ISO text)."""
    return {k: (v.isoformat() if k in DATE_FILTERS and v else v) for k, v in filters.items()}


def can_export(user: Any) -> bool:
    """Who may view the list may export it."""
    return bool(user and user.is_authenticated and scope.has_perm_anywhere(user, Perm.VIEW_PETITIONS))


def register_exports() -> None:
    exports.register(exports.ExportKind("petitions.petition", "信访件", can_export, petition_rows))

