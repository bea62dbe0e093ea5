"""Writes of the insight app: the nightly duplicate grouping and the staff's decisions on it.

`duplicate_groups_build` proposes groups of open cases of one sub-district that likely report the
same problem (the text engine's same-problem pairs, kept only where the cases are also at one
place: same community or grid, or within a few hundred metres). It is idempotent: a group that
is already proposed with the same members is left alone, a proposal whose members changed is
updated, one whose members no longer form a group is marked stale, and a pair of cases staff
dismissed together is never linked again. `duplicate_group_confirm` merges the members into the
chosen main case through the workflow (jiedao.cases.services.case_act, action "merge"), so
every merge has its transition row and audit event; `duplicate_group_dismiss` remembers the
decision. Every write appends an audit event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from jiedao.cases.models import Case, State
from jiedao.cases.workflow import Action
from jiedao.core import audit, scope
from jiedao.core.errors import DomainError
from jiedao.core.permissions import Perm
from jiedao.core.scope import PATH_SEGMENT
from jiedao.insight.models import DuplicateGroup, DuplicateGroupMember
from jiedao.insight.selectors import NEARBY_METRES, metres
from jiedao.org.models import NodeKind, OrgNode

GROUP_DAYS = 90  # open cases filed in the last 90 days are grouped
GROUP_MAX_CASES = 5000  # newest open cases read per sub-district
GROUP_MAX_GAP_DAYS = 45  # two requests further apart than this are not linked
JOB_ACTOR = "jiedao insight group"
MERGEABLE = (State.REPORTED, State.ACCEPTED)  # the merge transition's source states
PLACE_MATCH = 0.7  # a shared named site (the engine's specificity; an area name alone gives 0.6 at most)


def _common_path(paths: list[str]) -> str:
    """The deepest org path (whole segments) shared by all `paths`."""
    first = min(paths)
    last = max(paths)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[: size - size % PATH_SEGMENT]


def _same_place(a: Case, b: Case, named_place: bool) -> bool:
    """Cases at one place: the same building; or nearby by coordinates; or the same grid (the
    community when neither has a grid) unless they name two different buildings and their texts
    name no common place (`named_place`: the text engine found a shared specific place)."""
    if a.building_id and a.building_id == b.building_id:
        return True
    distance = metres(a.latitude, a.longitude, b.latitude, b.longitude)
    if distance is not None and distance <= NEARBY_METRES:
        return True
    if a.building_id and b.building_id and not named_place:
        return False
    if a.grid_id and a.grid_id == b.grid_id:
        return True
    return not a.grid_id and not b.grid_id and bool(a.community_id) and a.community_id == b.community_id


def _dismissed_pairs(subdistrict: OrgNode) -> set[tuple[int, int]]:
    pairs: set[tuple[int, int]] = set()
    rows = DuplicateGroupMember.objects.filter(group__subdistrict=subdistrict,
                                               group__status=DuplicateGroup.Status.DISMISSED)
    members: dict[int, list[int]] = {}
    for group_id, case_id in rows.values_list("group_id", "case_id"):
        members.setdefault(group_id, []).append(case_id)
    for ids in members.values():
        ids.sort()
        pairs.update((ids[x], ids[y]) for x in range(len(ids)) for y in range(x + 1, len(ids)))
    return pairs


def propose_groups(cases: list[Case], dismissed: set[tuple[int, int]]) -> list[tuple[list[Case], float, str]]:
    """(members, score, evidence) of every likely-duplicate group among `cases`: the text
    engine's same-problem pairs that are also at one place and close in time, minus the pairs
    staff dismissed, joined into connected groups."""
    if len(cases) < 2:
        return []
    from jiedao.insight.text.similar import run

    result = run([(str(c.pk), c.title, c.description) for c in cases])
    named = {(i, j) for i, j, _same, _s, f in result.judged if f.match >= PLACE_MATCH}
    parent = list(range(len(cases)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    edges: list[tuple[int, int, float]] = []
    for (i, j), score in result.pairs.items():
        a, b = cases[i], cases[j]
        pair = (a.pk, b.pk) if a.pk < b.pk else (b.pk, a.pk)
        if pair in dismissed or not _same_place(a, b, (i, j) in named or (j, i) in named):
            continue
        if abs((a.created_at - b.created_at).total_seconds()) > GROUP_MAX_GAP_DAYS * 86400:
            continue
        edges.append((i, j, score))
        parent[find(i)] = find(j)
    components: dict[int, list[int]] = {}
    for i in range(len(cases)):
        components.setdefault(find(i), []).append(i)
    scores: dict[int, list[float]] = {}
    for i, _j, score in edges:
        scores.setdefault(find(i), []).append(score)
    out = []
    for root, members in components.items():
        if len(members) < 2 or not any(cases[i].state in MERGEABLE for i in members):
            continue  # a group only makes sense if staff can merge something
        group = sorted((cases[i] for i in members), key=lambda c: (c.created_at, c.pk))
        values = scores.get(root, [0.0])
        buildings = {c.building_id for c in group if c.building_id}
        why = "同一楼栋" if len(buildings) == 1 and all(c.building_id for c in group) else "同一网格或相近位置"
        out.append((group, round(sum(values) / len(values), 3), f"文字相似，{why}，{len(group)} 件"))
    return out


def _key(cases: list[Case]) -> str:
    return ",".join(str(pk) for pk in sorted(c.pk for c in cases))


def _set_members(group: DuplicateGroup, cases: list[Case]) -> None:
    group.members.all().delete()
    DuplicateGroupMember.objects.bulk_create([DuplicateGroupMember(group=group, case=c) for c in cases])


@transaction.atomic
def duplicate_groups_build(*, subdistrict: OrgNode, actor: Any = JOB_ACTOR) -> dict[str, int]:
    """Propose (or refresh) the likely-duplicate groups of one sub-district's open cases."""
    if subdistrict.kind != NodeKind.SUBDISTRICT:
        raise DomainError("重复事项按街道分组。", field="subdistrict")
    if not isinstance(actor, str):
        scope.require(actor, Perm.REPORT_CASES, subdistrict.path, view_perm=Perm.VIEW_CASES)
    since = timezone.now() - timedelta(days=GROUP_DAYS)
    cases = list(
        Case.objects.filter(subdistrict=subdistrict, created_at__gte=since, merged_into__isnull=True)
        .exclude(state__in=(State.CLOSED, State.REJECTED))
        .order_by("-id")[:GROUP_MAX_CASES]
    )
    proposals = propose_groups(cases, _dismissed_pairs(subdistrict))
    pending = {g.pk: g for g in DuplicateGroup.objects.select_for_update()
               .filter(subdistrict=subdistrict, status=DuplicateGroup.Status.PENDING)}
    member_of: dict[int, int] = {}
    for group_id, case_id in DuplicateGroupMember.objects.filter(group_id__in=pending).values_list("group_id", "case_id"):
        member_of[case_id] = group_id
    by_key = {g.key: g for g in pending.values()}
    kept: set[int] = set()
    counts = {"proposed": 0, "updated": 0, "unchanged": 0, "stale": 0}
    for members, score, evidence in proposals:
        key = _key(members)
        if key in by_key and by_key[key].pk not in kept:
            kept.add(by_key[key].pk)
            counts["unchanged"] += 1
            continue
        overlap = [member_of[c.pk] for c in members if c.pk in member_of and member_of[c.pk] not in kept]
        path = _common_path([c.org_path for c in members])
        if overlap:
            group = pending[overlap[0]]
            before = {"key": group.key}
            group.key, group.score, group.evidence, group.org_path = key[:400], score, evidence, path
            group.save()
            _set_members(group, members)
            kept.add(group.pk)
            counts["updated"] += 1
            audit.record(actor=actor, action="insight.duplicategroup.update", obj=group, before=before,
                         after={"key": group.key, "score": score})
            continue
        group = DuplicateGroup.objects.create(subdistrict=subdistrict, org_path=path, key=key[:400], score=score,
                                              evidence=evidence)
        _set_members(group, members)
        kept.add(group.pk)
        counts["proposed"] += 1
        audit.record(actor=actor, action="insight.duplicategroup.propose", obj=group,
                     after={"key": group.key, "score": score, "cases": [c.ticket for c in members]})
    for group in pending.values():
        if group.pk not in kept:
            group.status = DuplicateGroup.Status.STALE
            group.save(update_fields=["status", "updated_at"])
            counts["stale"] += 1
            audit.record(actor=actor, action="insight.duplicategroup.stale", obj=group,
                         before={"status": DuplicateGroup.Status.PENDING}, after={"status": group.status},
                         reason="成员已不再构成疑似重复组（已合并、结案或文字已变）")
    return counts


def duplicate_groups_build_all() -> dict[str, int]:
    """The nightly job: every active sub-district."""
    total = {"subdistricts": 0, "proposed": 0, "updated": 0, "unchanged": 0, "stale": 0}
    for subdistrict in OrgNode.objects.filter(kind=NodeKind.SUBDISTRICT, is_active=True).order_by("path"):
        counts = duplicate_groups_build(subdistrict=subdistrict)
        total["subdistricts"] += 1
        for name, value in counts.items():
            total[name] += value
    return total


def _pending(group: DuplicateGroup) -> DuplicateGroup:
    current = DuplicateGroup.objects.select_for_update().get(pk=group.pk)
    if current.status != DuplicateGroup.Status.PENDING:
        raise DomainError(f"该组已{current.get_status_display()}，不能再处理。", field="status")
    return current


@transaction.atomic
def duplicate_group_confirm(*, actor: Any, group: DuplicateGroup, main_case: Case,
                            cases: list[Case] | None = None, reason: str = "") -> DuplicateGroup:
    """Staff confirm the group: each chosen member (default: all) is merged into `main_case`
    through the workflow. All or nothing: if any merge is refused, none happens."""
    scope.require(actor, Perm.REPORT_CASES, group.org_path, view_perm=Perm.VIEW_CASES)
    current = _pending(group)
    members = {m.case_id: m for m in current.members.select_related("case")}
    if main_case.pk not in members:
        raise DomainError("主件须是本组的事项。", field="main_case")
    chosen = [c.pk for c in cases] if cases is not None else list(members)
    if any(pk not in members for pk in chosen):
        raise DomainError("所选事项不属于本组。", field="cases")
    to_merge = [members[pk] for pk in chosen if pk != main_case.pk]
    if not to_merge:
        raise DomainError("请至少选择一件要并入主件的事项。", field="cases")
    main = Case.objects.get(pk=main_case.pk)
    if main.state in (State.CLOSED, State.REJECTED) or main.merged_into_id:
        raise DomainError(f"主件 {main.ticket} 已结案或已并入他件，请另选主件。", field="main_case")
    from jiedao.cases.services import case_act

    note = (reason or "").strip()[:400]
    for member in to_merge:
        case = member.case
        if case.state not in MERGEABLE:
            raise DomainError(f"{case.ticket} 已“{case.get_state_display()}”，不能合并；请把它选为主件或不选它。",
                              field="cases")
        try:
            case_act(actor=actor, case=case, action=Action.MERGE, into=main,
                     reason=f"疑似重复组 #{current.pk} 确认合并" + (f"：{note}" if note else ""))
        except DomainError as exc:
            raise type(exc)(f"{case.ticket}：{exc.message}", field="cases") from None
        member.merged = True
        member.save(update_fields=["merged"])
    current.status = DuplicateGroup.Status.CONFIRMED
    current.main_case = main
    current.decided_by = actor
    current.decided_at = timezone.now()
    current.reason = note
    current.save()
    audit.record(actor=actor, action="insight.duplicategroup.confirm", obj=current, reason=note,
                 before={"status": DuplicateGroup.Status.PENDING},
                 after={"status": current.status, "main_case": main.ticket,
                        "merged": [m.case.ticket for m in to_merge]})
    return current


@transaction.atomic
def duplicate_group_dismiss(*, actor: Any, group: DuplicateGroup, reason: str = "") -> DuplicateGroup:
    """Staff judge the cases different problems: the group is closed and its pairs are never
    proposed together again."""
    scope.require(actor, Perm.REPORT_CASES, group.org_path, view_perm=Perm.VIEW_CASES)
    current = _pending(group)
    note = (reason or "").strip()
    if len(note) > 500:
        raise DomainError("说明不能超过 500 个字。", field="reason")
    current.status = DuplicateGroup.Status.DISMISSED
    current.decided_by = actor
    current.decided_at = timezone.now()
    current.reason = note
    current.save()
    audit.record(actor=actor, action="insight.duplicategroup.dismiss", obj=current, reason=note,
                 before={"status": DuplicateGroup.Status.PENDING}, after={"status": current.status})
    return current
