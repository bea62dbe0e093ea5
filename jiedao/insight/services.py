"""Writes of the insight app: the nightly duplicate grouping and the staff's decisions on it;
the classifier's versions (below).

`duplicate_groups_build` proposes groups of open cases of one sub-district that likely report the
same problem (the text engine's same-problem pairs, kept only where the cases are also at one
place: same community or grid, or within a few hundred metres). It is idempotent: a group that
is already proposed with the same members is left alone, a proposal whose members changed is
updated, one whose members no longer form a group is marked stale, and a pair of cases staff
dismissed together is never linked again. `duplicate_group_confirm` merges the members into the
chosen main case through the workflow (jiedao.cases.services.case_act, action "merge"), so
every merge has its transition row and audit event; `duplicate_group_dismiss` remembers the
decision. Every write appends an audit event.

Writes of the insight app: training a classifier version from the platform's own cases (plus
an optional import of labelled messages), the activation rule, roll-back, the weekly job, and
the record of what was suggested when a case was registered.

Activation rule: a new version becomes the one that suggests only if its macro-F1 on the
held-back slice (the most recent cases, see selectors.split_history) is at least the active
version's macro-F1 on the same slice. Without enough history there is no slice: the version is
a cold start from the catalogue and replaces only another cold start (or nothing)."""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.cases.models import Case, Category, State
from jiedao.cases.selectors import bigrams, jaccard
from jiedao.cases.workflow import Action
from jiedao.core import audit, caching, scope
from jiedao.core import text as boundary
from jiedao.core.errors import ConflictError, DomainError, PermissionError_
from jiedao.core.permissions import Perm
from jiedao.core.scope import PATH_SEGMENT
from jiedao.insight import selectors
from jiedao.insight.models import (
    CaseRepeat,
    CaseSuggestion,
    ClassifierVersion,
    DuplicateGroup,
    DuplicateGroupMember,
    RepeatScan,
)
from jiedao.insight.selectors import MERGEABLE, NEARBY_METRES, metres
from jiedao.org.models import NodeKind, OrgNode

GROUP_DAYS = 90  # open cases filed in the last 90 days are grouped
GROUP_MAX_CASES = 5000  # newest open cases read per sub-district
GROUP_MAX_GAP_DAYS = 45  # two requests further apart than this are not linked
JOB_ACTOR = "jiedao insight group"
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


# a community or village is a site of its own (two of them: two problems); a grid is an area
_ORG_KINDS = {NodeKind.COMMUNITY: "estate", NodeKind.VILLAGE: "estate", NodeKind.GRID: "area"}


def org_place_names(cases: list[Case]) -> dict[str, str]:
    """The org tree's own place names under the cases' sub-district (communities, villages, grids),
    with their generic word dropped too (丽发新城社区 → 丽发新城), for the text engine's places."""
    subs = {c.subdistrict_id for c in cases if c.subdistrict_id}
    names: dict[str, str] = {}
    for name, kind in OrgNode.objects.filter(subdistrict_id__in=subs, kind__in=list(_ORG_KINDS)).values_list(
            "name", "kind"):
        names[name] = _ORG_KINDS[kind]
        for word in ("社区", "村", "居委会", "网格"):
            if name.endswith(word) and len(name) - len(word) >= 3:
                names[name[: -len(word)]] = _ORG_KINDS[kind]
    return names


def similar_config() -> Any:
    """The text engine's settings for this deployment: its problem words are the catalogue's own
    category names and keywords (which staff edit), never a list written for a development set."""
    from jiedao.insight.text.similar import SimilarConfig, problem_vocabulary

    words = [w for c in selectors.catalogue_leaves() for w in (c.name, *selectors.category_keywords(c))]
    return SimilarConfig(problem_words=problem_vocabulary(words))


def propose_groups(cases: list[Case], dismissed: set[tuple[int, int]]) -> list[tuple[list[Case], float, str]]:
    """(members, score, evidence) of every likely-duplicate group among `cases`: the text
    engine's same-problem pairs that are also at one place and close in time, minus the pairs
    staff dismissed, grouped around a main case — every member linked to the main directly, no
    two members at two places (no chain through intermediate members)."""
    if len(cases) < 2:
        return []
    from jiedao.insight.text.similar import group_around_main, run

    result = run([(str(c.pk), c.title, c.description) for c in cases], similar_config(),
                 known_places=org_place_names(cases))
    named = {(i, j) for i, j, _same, _s, f in result.judged if f.match >= PLACE_MATCH}
    edges: list[tuple[int, int, float]] = []
    for i, j, same, score, _f in result.judged:  # the engine's direct verdicts only
        if not same:
            continue
        a, b = cases[i], cases[j]
        pair = (a.pk, b.pk) if a.pk < b.pk else (b.pk, a.pk)
        if pair in dismissed or not _same_place(a, b, (i, j) in named or (j, i) in named):
            continue
        if abs((a.created_at - b.created_at).total_seconds()) > GROUP_MAX_GAP_DAYS * 86400:
            continue
        edges.append((i, j, score))
    linked = {(i, j) if i < j else (j, i): score for i, j, score in edges}

    def compatible(x: int, y: int) -> bool:
        """Two members of one group: no two places (the engine's check), and never a pair staff
        dismissed or one too far apart in time (every member also links to the main directly)."""
        a, b = cases[x], cases[y]
        pair = (a.pk, b.pk) if a.pk < b.pk else (b.pk, a.pk)
        if pair in dismissed or abs((a.created_at - b.created_at).total_seconds()) > GROUP_MAX_GAP_DAYS * 86400:
            return False
        return result.compatible(x, y)

    components = dict(group_around_main(len(cases), edges, compatible))
    scores: dict[int, list[float]] = {
        main: [linked[(min(main, m), max(main, m))] for m in members[1:]] for main, members in components.items()
    }
    out = []
    for root, members in components.items():
        if len(members) < 2 or not any(cases[i].state in MERGEABLE for i in members):
            continue  # a group only makes sense if staff can merge something
        group = sorted((cases[i] for i in members), key=lambda c: (c.created_at, c.pk))
        values = scores.get(root, [0.0])
        buildings = {c.building_id for c in group if c.building_id}
        why = _("同一楼栋") if len(buildings) == 1 and all(c.building_id for c in group) else _("同一网格或相近位置")
        reason = _("文字相似，%(why)s，%(count)s 件") % {"why": why, "count": len(group)}
        out.append((group, round(sum(values) / len(values), 3), reason))
    return out


def _key(cases: list[Case]) -> str:
    return ",".join(str(pk) for pk in sorted(c.pk for c in cases))


def _set_members(group: DuplicateGroup, cases: list[Case]) -> None:
    group.members.all().delete()
    DuplicateGroupMember.objects.bulk_create([DuplicateGroupMember(group=group, case=c) for c in cases])


def duplicate_groups_build(*, subdistrict: OrgNode, actor: Any = JOB_ACTOR) -> dict[str, int]:
    """Propose (or refresh) the likely-duplicate groups of one sub-district's open cases."""
    if subdistrict.kind != NodeKind.SUBDISTRICT:
        raise DomainError(_("重复事项按街道分组。"), field="subdistrict")
    if not isinstance(actor, str):
        scope.require(actor, Perm.REPORT_CASES, subdistrict.path, view_perm=Perm.VIEW_CASES)
    since = timezone.now() - timedelta(days=GROUP_DAYS)
    cases = list(
        Case.objects.filter(subdistrict=subdistrict, created_at__gte=since, merged_into__isnull=True)
        .exclude(state__in=(State.CLOSED, State.REJECTED))
        .order_by("-id")[:GROUP_MAX_CASES]
    )
    proposals = propose_groups(cases, _dismissed_pairs(subdistrict))
    # The reading and the text engine above run outside the transaction: on SQLite a transaction
    # holds the one write lock from its start, and a sub-district's proposals take seconds at
    # district scale. A case merged or closed meanwhile is refused when the group is confirmed.
    with transaction.atomic():
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
        raise DomainError(_("该组已%(status)s，不能再处理。") % {"status": current.get_status_display()}, field="status")
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
        raise DomainError(_("主件须是本组的事项。"), field="main_case")
    chosen = [c.pk for c in cases] if cases is not None else list(members)
    if any(pk not in members for pk in chosen):
        raise DomainError(_("所选事项不属于本组。"), field="cases")
    to_merge = [members[pk] for pk in chosen if pk != main_case.pk]
    if not to_merge:
        raise DomainError(_("请至少选择一件要并入主件的事项。"), field="cases")
    main = Case.objects.get(pk=main_case.pk)
    if main.state in (State.CLOSED, State.REJECTED) or main.merged_into_id:
        raise DomainError(_("主件 %(ticket)s 已结案或已并入他件，请另选主件。") % {"ticket": main.ticket}, field="main_case")
    from jiedao.cases.services import case_act

    note = boundary.clean(reason or "", field="reason").strip()[:400]
    for member in to_merge:
        case = member.case
        if case.state not in MERGEABLE:
            raise DomainError(
                _("%(ticket)s 已“%(state)s”，不能合并；请把它选为主件或不选它。")
                % {"ticket": case.ticket, "state": case.get_state_display()},
                field="cases",
            )
        try:
            case_act(actor=actor, case=case, action=Action.MERGE, into=main,
                     reason=f"疑似重复组 #{current.pk} 确认合并" + (f"：{note}" if note else ""))
        except DomainError as exc:
            raise type(exc)(_("%(ticket)s：%(problem)s") % {"ticket": case.ticket, "problem": exc.message}, field="cases") from None
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
    note = boundary.clean(reason or "", field="reason").strip()
    if len(note) > 500:
        raise DomainError(_("说明不能超过 500 个字。"), field="reason")
    current.status = DuplicateGroup.Status.DISMISSED
    current.decided_by = actor
    current.decided_at = timezone.now()
    current.reason = note
    current.save()
    audit.record(actor=actor, action="insight.duplicategroup.dismiss", obj=current, reason=note,
                 before={"status": DuplicateGroup.Status.PENDING}, after={"status": current.status})
    return current


log = logging.getLogger(__name__)
Status, Kind, Trigger = ClassifierVersion.Status, ClassifierVersion.Kind, ClassifierVersion.Trigger
STALE_TRAINING = timedelta(hours=2)  # a "training" row older than this was left by a dead process
# Model bytes kept for roll-back: the active version and the newest finished ones (a trained model
# is tens of MB; weekly retraining would otherwise add ~1.5 GB a year). Older versions keep their
# scores, decision and audit trail, but can no longer be switched to.
KEEP_MODEL_DATA = 6
CALIBRATION_MIN = 30  # held-back cases needed to fit the confidence map (and as many to check it)
CONFIDENCE_TARGET = 0.9  # measured accuracy wanted above the low-confidence line


def _require_manage(actor: Any) -> None:
    """Administrators (MANAGE_INSIGHT anywhere) manage the classifier; None is the system itself."""
    if actor is not None and not scope.has_perm_anywhere(actor, Perm.MANAGE_INSIGHT):
        raise PermissionError_(_("只有系统管理员可以训练或切换分类模型。"))


def _version_audit(version: ClassifierVersion) -> dict[str, Any]:
    return {
        "number": version.number, "status": version.status, "kind": version.kind, "trigger": version.trigger,
        "is_active": version.is_active, "training_cases": version.training_cases,
        "imported_messages": version.imported_messages, "import_name": version.import_name,
        "holdout_cases": version.holdout_cases, "accuracy": version.accuracy, "macro_f1": version.macro_f1,
        "decision": version.decision,
    }


def _new_version(*, actor: Any, trigger: str, status: str) -> ClassifierVersion:
    for _attempt in range(5):
        try:
            with transaction.atomic():
                number = (ClassifierVersion.objects.aggregate(m=Max("number"))["m"] or 0) + 1
                return ClassifierVersion.objects.create(
                    number=number, trigger=trigger, status=status,
                    requested_by=actor if getattr(actor, "is_authenticated", False) else None,
                )
        except IntegrityError:  # another process took the number
            continue
    raise ConflictError(_("无法分配模型版本号，请稍后重试。"))


# --- import of labelled messages ----------------------------------------------------------------


def read_import(path: str | Path, *, label_map: dict[str, str] | None = None,
                leaves: list[Category] | None = None) -> tuple[list, Counter, int]:
    """Labelled messages of a csv/xlsx (id,title,text,category or 留言编号,留言主题,留言详情,一级分类)
    whose labels map onto active catalogue categories: by code, by name, or through `label_map`
    (label → category code or name). Returns (examples, unmapped label counts, rows read)."""
    from jiedao.insight.text import io as tio
    from jiedao.insight.text.classifier import Example

    leaves = selectors.catalogue_leaves() if leaves is None else leaves
    by_key: dict[str, str] = {}
    for c in leaves:
        by_key[c.name] = c.code
        by_key[c.code] = c.code
    mapping: dict[str, str] = {}
    for label, target in (label_map or {}).items():
        code = by_key.get(str(target).strip())
        if code is None:
            raise DomainError(
                _("类别对照“%(label)s=%(target)s”中的“%(target)s”不是启用的事项类别（代码或名称）。")
                % {"label": label, "target": target},
                field="map",
            )
        mapping[str(label).strip()] = code
    try:
        messages = tio.read_messages(path, require_label=True)
    except (OSError, ValueError, KeyError) as exc:
        raise DomainError(_("无法读取导入文件：%(error)s") % {"error": exc}, field="import") from None
    examples, unmapped = [], Counter()
    for m in messages:
        code = mapping.get(m.category) or by_key.get(m.category or "")
        if code is None:
            unmapped[m.category] += 1
            continue
        examples.append(Example(title=m.title, text=m.text, label=code, id=f"import:{m.id}"))
    if messages and not examples:
        labels = _("、").join(_("%(label)s（%(count)s）") % {"label": k, "count": v} for k, v in unmapped.most_common(8))
        raise DomainError(
            _("导入文件中的类别都对应不到启用的事项类别：%(labels)s。请用类别对照（如 --map 原类别=类别代码）指定。")
            % {"labels": labels},
            field="import",
        )
    return examples, unmapped, len(messages)


# --- training -------------------------------------------------------------------------------------


def _scores(model, examples: list) -> dict[str, Any]:
    from jiedao.insight.text.classifier import evaluate

    report = evaluate(model, examples)
    return {
        "accuracy": round(report.accuracy, 4),
        "macro_f1": round(report.macro_f1, 4),
        "per_category": {lab: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in pc.items()}
                         for lab, pc in report.per_class.items()},
        "confusion": {"labels": report.labels, "matrix": report.confusion},
        "low_confidence_share": round(report.low_confidence / report.n, 4) if report.n else None,
    }


def classifier_train(
    *,
    actor: Any,
    trigger: str = Trigger.COMMAND,
    import_path: str | Path | None = None,
    label_map: dict[str, str] | None = None,
    version: ClassifierVersion | None = None,
) -> ClassifierVersion:
    """Train a new version from the handled cases (+ an optional labelled import), score it on
    the held-back slice, and activate it if it scores at least as well as the active one there.

    `version`: a row queued by classifier_request (the page's button); otherwise one is made."""
    _require_manage(actor)
    from jiedao.insight.text.classifier import TrainConfig, calibrate, train

    leaves = selectors.catalogue_leaves()
    if len(leaves) < 2:
        raise DomainError(_("事项目录中启用的类别少于两个，无法训练分类模型。"), field="catalogue")
    imported, unmapped, import_rows = ([], Counter(), 0)
    if import_path:
        imported, unmapped, import_rows = read_import(import_path, label_map=label_map, leaves=leaves)
    if version is None:
        version = _new_version(actor=actor, trigger=trigger, status=Status.TRAINING)
    else:
        ClassifierVersion.objects.filter(pk=version.pk).update(status=Status.TRAINING)
        version.status = Status.TRAINING
    try:
        started = time.perf_counter()
        active = selectors.active_version()
        split = selectors.split_history(selectors.labelled_history(leaves), active)
        rows, seeds, catalogue_examples = selectors.catalogue_material(leaves)
        notes = [split.note] if split.note else []
        if unmapped:
            labels = _("、").join(_("%(label)s（%(count)s）") % {"label": k, "count": v} for k, v in unmapped.most_common(5))
            notes.append(_("导入中未对应的类别：%(labels)s") % {"labels": labels})
        if split.holdout:
            kind = Kind.HISTORY
            # the held-back slice calibrates the confidences when it is large enough (below): the
            # engine's own temperature fit on a fifth of the training cases, a second fit, is not needed
            config = TrainConfig(calibrate=False) if len(split.holdout) >= 2 * CALIBRATION_MIN else None
        else:
            kind = Kind.COLD_START
            config = selectors.cold_start_config() if not imported and not split.train else None
        examples = selectors.as_examples(split.train) + imported + catalogue_examples
        model = train(examples, rows, seeds=seeds, config=config)
        version.kind = kind
        version.model_data = None if split.holdout else model.to_bytes()  # with a slice: after calibration
        version.labels = list(model.labels)
        version.label_names = {c.code: c.name for c in leaves}
        version.training_cases = len(split.train)
        version.imported_messages = len(imported)
        version.import_name = Path(import_path).name[:200] if import_path else ""
        version.catalogue_rows = len(catalogue_examples)
        version.trained_through_case = split.train[-1].id if split.train else 0
        version.holdout_cases = len(split.holdout)
        version.holdout_from_case = split.boundary
        if split.holdout:
            # the held-back slice, oldest first: its older half calibrates the confidences and
            # draws the low-confidence line, its newer half scores the version (and the active
            # one) — a model is never scored on what it learned or was calibrated on
            holdout_all = selectors.as_examples(split.holdout)
            cut = len(holdout_all) // 2 if len(holdout_all) >= 2 * CALIBRATION_MIN else 0
            calibration = calibrate(model, holdout_all[:cut], holdout_all[cut:], target=CONFIDENCE_TARGET,
                                    min_fit=CALIBRATION_MIN)
            version.model_data = model.to_bytes()
            holdout = holdout_all[cut:]
            version.calibration = {
                **calibration.as_dict(),
                "fit_cases": [split.holdout[0].id, split.holdout[cut - 1].id] if cut else [],
                "eval_cases": [split.holdout[cut].id, split.holdout[-1].id],
                "same_wording": selectors.same_wording(split.train, split.holdout[cut:]),
            }
            scores = _scores(model, holdout)
            for key, value in scores.items():
                setattr(version, key, value)
            if active is not None and active.model_data:
                try:
                    previous = _scores(selectors.load_model(active), holdout)
                    version.compared_with = active
                    version.compared_scores = {"accuracy": previous["accuracy"], "macro_f1": previous["macro_f1"]}
                except ValueError as exc:  # an unreadable old model cannot be compared: the new one wins
                    notes.append(_("当前版本 v%(number)s 无法读取（%(error)s）") % {"number": active.number, "error": exc})
        version.train_seconds = round(time.perf_counter() - started, 2)
        activate, version.decision = _decide(version, active, split)
        version.message = _("；").join(notes)[:500]
        version.status = Status.READY
        version.finished_at = timezone.now()
        with transaction.atomic():
            version.save()
            audit.record(actor=actor, action="insight.classifier.train", obj=version, after=_version_audit(version),
                         reason=f"{Trigger(version.trigger).label}；导入 {import_rows} 行" if import_path else str(
                             Trigger(version.trigger).label))
            if activate:
                _activate(actor=actor, version=version, action="insight.classifier.activate")
            _prune_model_data(actor=actor)
    except DomainError:
        raise
    except Exception as exc:
        log.exception("training classifier version %s failed", version.number)
        ClassifierVersion.objects.filter(pk=version.pk).update(
            status=Status.FAILED, finished_at=timezone.now(), message=(_("训练失败：%(error)s") % {"error": f"{type(exc).__name__}: {exc}"})[:500])
        raise
    return version


def _prune_model_data(*, actor: Any) -> int:
    """Drop the model bytes of finished versions beyond the newest KEEP_MODEL_DATA (never the
    active one's); audited as one event naming the versions."""
    kept = list(ClassifierVersion.objects.filter(status=Status.READY).exclude(model_data=None)
                .order_by("-number").values_list("pk", flat=True)[:KEEP_MODEL_DATA])
    old = (ClassifierVersion.objects.filter(status=Status.READY).exclude(model_data=None)
           .exclude(pk__in=kept).exclude(is_active=True))
    numbers = sorted(old.values_list("number", flat=True))
    if not numbers:
        return 0
    old.update(model_data=None)
    audit.record(actor=actor, action="insight.classifier.prune", object_type="insight.classifierversion",
                 after={"versions": [f"v{n}" for n in numbers]},
                 reason=f"只保留最近 {KEEP_MODEL_DATA} 个版本和当前版本的模型数据")
    return len(numbers)


def _decide(version: ClassifierVersion, active: ClassifierVersion | None, split) -> tuple[bool, str]:
    """(activate?, the reason in words) — the activation rule."""
    if active is None:
        return True, _("尚无启用的版本，直接启用。")
    if split.holdout:
        if not version.compared_scores:
            return True, _("当前版本无法在留出集上评估，启用新版本。")
        old = version.compared_scores["macro_f1"]
        scored = (version.calibration or {}).get("eval_n", version.holdout_cases)  # the half scored on
        figures = {"cases": scored, "f1": f"{version.macro_f1:.3f}", "number": active.number, "old": f"{old:.3f}"}
        if version.macro_f1 >= old:
            return True, _("留出集 %(cases)s 件上宏平均 F1 %(f1)s ≥ 当前版本 v%(number)s 的 %(old)s，已启用。") % figures
        return False, _("留出集 %(cases)s 件上宏平均 F1 %(f1)s < 当前版本 v%(number)s 的 %(old)s，未启用。") % figures
    if active.kind == Kind.COLD_START or active.macro_f1 is None:
        return True, _("历史事项不足，按事项目录冷启动，替换当前的冷启动版本。")
    return False, _("历史事项不足，无法与用历史事项训练的当前版本 v%(number)s 比较，未启用。") % {"number": active.number}


def _activate(*, actor: Any, version: ClassifierVersion, action: str, reason: str = "") -> None:
    previous = ClassifierVersion.objects.select_for_update().filter(is_active=True).exclude(pk=version.pk).first()
    if previous is not None:
        ClassifierVersion.objects.filter(pk=previous.pk).update(is_active=False)
    now = timezone.now()
    ClassifierVersion.objects.filter(pk=version.pk).update(is_active=True, activated_at=now)
    version.is_active, version.activated_at = True, now
    audit.record(actor=actor, action=action, obj=version,
                 before={"active": f"v{previous.number}" if previous else None},
                 after={"active": f"v{version.number}"}, reason=reason)
    caching.bump()  # every process looks for the new active version at its next request
    transaction.on_commit(selectors.forget_model)


def classifier_activate(*, actor: Any, version: ClassifierVersion, reason: str = "") -> ClassifierVersion:
    """Make an earlier (or any finished) version the one that suggests: the roll-back."""
    _require_manage(actor)
    with transaction.atomic():
        current = ClassifierVersion.objects.select_for_update().get(pk=version.pk)
        if current.status != Status.READY:
            raise DomainError(_("版本 v%(number)s 尚未训练完成，不能启用。") % {"number": current.number}, field="version")
        if not current.model_data:
            raise DomainError(
                _("版本 v%(number)s 的模型数据已按保留规则清理，只保留得分记录，不能启用。") % {"number": current.number},
                field="version",
            )
        if current.is_active:
            raise ConflictError(_("版本 v%(number)s 已是当前使用的版本。") % {"number": current.number}, field="version")
        reason = boundary.clean(reason or "", field="reason").strip()[:500]
        _activate(actor=actor, version=current, action="insight.classifier.rollback", reason=reason)
    return current


def classifier_request(*, actor: Any) -> ClassifierVersion:
    """Queue a retraining (the page's "retrain now"); the caller hands it to jiedao.core.tasks."""
    _require_manage(actor)
    with transaction.atomic():
        ClassifierVersion.objects.filter(status=Status.TRAINING, created_at__lt=timezone.now() - STALE_TRAINING).update(
            status=Status.FAILED, message=_("训练进程已中断。"), finished_at=timezone.now())
        busy = selectors.pending_version()
        if busy is not None:
            raise ConflictError(_("版本 v%(number)s 正在训练，请等它完成。") % {"number": busy.number}, field="version")
        version = _new_version(actor=actor, trigger=Trigger.MANUAL, status=Status.QUEUED)
        audit.record(actor=actor, action="insight.classifier.request", obj=version, after=_version_audit(version))
    return version


def classifier_train_queued(version_id: int, actor_id: int | None = None) -> str:
    """Task entry point (jiedao.core.tasks.submit): train the queued version."""
    from django.contrib.auth import get_user_model

    version = ClassifierVersion.objects.filter(pk=version_id, status=Status.QUEUED).first()
    if version is None:
        return "nothing queued"
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    try:
        version = classifier_train(actor=actor, trigger=Trigger.MANUAL, version=version)
    except DomainError as exc:
        ClassifierVersion.objects.filter(pk=version_id).update(status=Status.FAILED, message=exc.message[:500],
                                                               finished_at=timezone.now())
        return exc.message
    return f"v{version.number}: {version.decision}"


def classifier_retrain_scheduled() -> str:
    """The weekly job (jiedao.core.scheduler.JOBS)."""
    if selectors.pending_version() is not None:
        return "a version is being trained; skipped"
    try:
        version = classifier_train(actor=None, trigger=Trigger.SCHEDULE)
    except DomainError as exc:
        return exc.message
    return f"v{version.number}: {version.decision}"


# --- suggestion record at intake ---------------------------------------------------------------------


def suggestion_for_case(*, title: str, description: str) -> selectors.Suggestion | None:
    """What the active model suggests for a case being registered (read before the write);
    None if the classifier cannot answer (it never stops an intake)."""
    try:
        return selectors.suggest(title, description, k=1)
    except Exception:  # a broken model must not block intake
        log.exception("category suggestion at intake failed")
        return None


def suggestion_row(*, case: Case, suggestion: selectors.Suggestion | None,
                   auto_filled: bool = False) -> CaseSuggestion | None:
    """The record (unsaved) of what was suggested (category, confidence, version) and what was
    chosen at creation (nothing, when intake filed the suggestion itself: no person chose it yet),
    for the case's creation transaction to insert; its audit event covers it."""
    if suggestion is None or not suggestion.items:
        return None
    return CaseSuggestion(
        case=case, version_id=suggestion.version_id, suggested=suggestion.top,
        confidence=round(suggestion.confidence, 4), low_confidence=suggestion.low_confidence,
        chosen_id=None if auto_filled else case.category_id,
    )


# A case filed with a category does not run the classifier at intake (jiedao.cases.services.
# case_create); this job records what the model would have suggested for it, in batches, so the
# override rate still covers every case. Only recent cases: older ones were judged by older models.
BACKFILL_DAYS = 7
BACKFILL_BATCH = 2000


def suggestion_backfill(*, batch: int = BACKFILL_BATCH, max_batches: int = 50) -> str:
    """The job: CaseSuggestion rows for the last BACKFILL_DAYS' cases that have none; `chosen`
    is the category the case was filed with (Case.filed_category)."""
    since = timezone.now() - timedelta(days=BACKFILL_DAYS)
    done = 0
    for _batch in range(max_batches):
        rows_in = list(Case.objects.filter(created_at__gte=since, suggestion__isnull=True)
                       .order_by("id").values_list("id", "title", "description", "filed_category_id")[:batch])
        if not rows_in:
            break
        cases = [(pk, title, description) for pk, title, description, _ in rows_in]
        filed = {pk: category_id for pk, _, _, category_id in rows_in}
        suggestions = selectors.suggest_many([(title, description) for _, title, description in cases])
        rows = [
            CaseSuggestion(case_id=pk, version_id=s.version_id, suggested=s.top, confidence=round(s.confidence, 4),
                           low_confidence=s.low_confidence, chosen_id=filed.get(pk))
            for (pk, _, _), s in zip(cases, suggestions, strict=True)
        ]
        # A case the model cannot judge (too short) gets a row without a suggestion, so it is not
        # looked at again; the override rate counts only rows with one.
        with transaction.atomic():
            CaseSuggestion.objects.bulk_create(rows, ignore_conflicts=True)  # an intake may have raced us
            audit.record(actor=None, action="insight.suggestion.backfill", object_type="insight.casesuggestion",
                         object_repr=f"事项 {cases[0][0]}–{cases[-1][0]}",
                         after={"cases": len(rows), "first_case": cases[0][0], "last_case": cases[-1][0]})
        done += len(rows)
        if len(cases) < batch:
            break
    return f"{done} suggestions recorded"


# --- repeat complaints ------------------------------------------------------------------------------
#
# A request is a repeat when the same reporter (the phone's blind index) writes again about the
# same problem within REPEAT_DAYS (`_alike`: the same category at the same place, or titles alike
# where the two do not state two places), when it re-posts a problem already filed at the same place (the text engine's
# same-problem verdict, place-aware), or when its words chase an earlier request (又来反映, 再次, 还是
# 没有, 多次反映). The `repeat_scan` job marks such cases (CaseRepeat) with the earlier case when one
# is found; hotspots and the 月议 agenda count them.

REPEAT_DAYS = 90  # an earlier request this old or newer may be repeated
REPEAT_POST_DAYS = GROUP_MAX_GAP_DAYS  # a re-post is looked for among this many days' cases …
REPEAT_CANDIDATES = 20  # … of the same grid or building, the closest in wording
REPEAT_BATCH = 2000
CHASE_WORDS = re.compile(
    r"又(?:来|一次|再|要|反映|投诉|举报|找)|再次|再一次|还是没有|还没有解决|仍然没有|仍未|依然没有|依旧没有|"
    r"多次(?:反映|投诉|举报|来电|打电话)|反复(?:反映|投诉)|屡次|重复反映|第[二三四五六七八九十两2-9]次(?:反映|投诉|来电|举报)"
)


REPEAT_TITLE_LIKENESS = 0.2  # title bigram Jaccard from which one reporter's two titles say one problem


def _alike(a: Case, b: Case) -> bool:
    """The same reporter writing again about the same problem: the same category at the same
    place (`_same_place`, as duplicate groups judge it: one building, nearby, or one grid), or
    titles alike where the two do not state two places (two buildings, else two grids). One
    resident reporting another problem, or the same kind of problem at another building, is no
    repeat."""
    here = _same_place(a, b, False)
    if here and a.category_id and a.category_id == b.category_id:
        return True
    elsewhere = not here and bool((a.building_id and b.building_id) or (a.grid_id and b.grid_id))
    return not elsewhere and jaccard(bigrams(a.title), bigrams(b.title)) >= REPEAT_TITLE_LIKENESS


def find_repeats(new: list[Case], pool: list[Case]) -> dict[int, tuple[Case | None, list[str], str]]:
    """case id → (earlier case or None, reasons, evidence) for each case of `new` that repeats an
    earlier request of `pool` (cases of the same sub-district, `new` included)."""
    from jiedao.insight.text.similar import run, score_pairs

    pool = sorted({c.pk: c for c in [*pool, *new]}.values(), key=lambda c: (c.created_at, c.pk))
    found: dict[int, tuple[Case | None, list[str], str]] = {}
    by_phone: dict[str, list[Case]] = {}
    for c in pool:
        if c.reporter_phone_index:
            by_phone.setdefault(c.reporter_phone_index, []).append(c)
    by_area: dict[tuple[str, int], list[Case]] = {}
    for c in pool:
        for key in (("b", c.building_id), ("g", c.grid_id)):
            if key[1]:
                by_area.setdefault(key, []).append(c)
    posts: dict[int, list[Case]] = {}
    for c in new:
        window = c.created_at - timedelta(days=REPEAT_DAYS)
        reasons: list[str] = []
        earlier: Case | None = None
        evidence = ""
        for e in reversed(by_phone.get(c.reporter_phone_index, []) if c.reporter_phone_index else []):
            if (e.created_at, e.pk) < (c.created_at, c.pk) and e.created_at >= window and _alike(c, e):
                earlier, evidence = e, _("同一反映人（电话相同）")
                reasons.append(CaseRepeat.Reason.REPORTER)
                break
        words = CHASE_WORDS.search(f"{c.title}。{c.description}")
        if words:
            reasons.append(CaseRepeat.Reason.CHASE)
            evidence = evidence or _("催问用语：%(w)s") % {"w": words.group()}
        found[c.pk] = (earlier, reasons, evidence)
        # candidates for a re-post: earlier cases at the same building or grid, closest in wording
        post_window = c.created_at - timedelta(days=REPEAT_POST_DAYS)
        area = {e.pk: e for key in (("b", c.building_id), ("g", c.grid_id)) if key[1] for e in by_area.get(key, ())}
        near = [e for e in area.values() if (e.created_at, e.pk) < (c.created_at, c.pk) and e.created_at >= post_window]
        if near:
            mine = bigrams(c.title + c.description[:200])
            near.sort(key=lambda e: -len(mine & bigrams(e.title + e.description[:200])))
            posts[c.pk] = near[:REPEAT_CANDIDATES]
    if posts:
        by_pk = {c.pk: c for c in new}
        texts: dict[int, Case] = {}
        for pk, near in posts.items():
            texts[pk] = by_pk[pk]
            for e in near:
                texts[e.pk] = e
        order = list(texts)
        at = {pk: i for i, pk in enumerate(order)}
        # the org tree's own place names, as the duplicate groups use them (the same "same place")
        index = run([(str(pk), texts[pk].title, texts[pk].description) for pk in order], similar_config(),
                    known_places=org_place_names(list(texts.values()))).index
        pairs = [(at[pk], at[e.pk]) for pk, near in posts.items() for e in near]
        best: dict[int, tuple[float, Case]] = {}
        for i, j, same, score, _f in score_pairs(pairs, index):
            if not same:  # related (another stretch, building, door) is not a repeat
                continue
            pk = order[i]
            if score > best.get(pk, (-1.0, None))[0]:
                best[pk] = (score, texts[order[j]])
        for pk, (_score, e) in best.items():
            earlier, reasons, evidence = found[pk]
            found[pk] = (earlier or e, [*reasons, CaseRepeat.Reason.REPOST],
                         evidence or _("与 %(t)s 为同一地点的同一问题") % {"t": e.ticket})
    return {pk: v for pk, v in found.items() if v[1]}


def repeat_scan(*, subdistrict: OrgNode, batch: int = REPEAT_BATCH) -> int:
    """Mark the sub-district's cases filed since the last scan that repeat an earlier request;
    returns how many were marked. Idempotent: a case is read once (RepeatScan keeps the last id)."""
    mark, _created = RepeatScan.objects.get_or_create(subdistrict=subdistrict)
    new = list(Case.objects.filter(subdistrict=subdistrict, id__gt=mark.last_case_id).exclude(state=State.REJECTED)
               .order_by("id")[:batch])
    last = Case.objects.filter(subdistrict=subdistrict, id__gt=mark.last_case_id).order_by("id").values_list(
        "id", flat=True)[:batch]
    last_id = max(last) if last else mark.last_case_id
    if not new:
        RepeatScan.objects.filter(pk=mark.pk).update(last_case_id=last_id, scanned_at=timezone.now())
        return 0
    start = min(c.created_at for c in new) - timedelta(days=REPEAT_DAYS)
    pool = list(Case.objects.filter(subdistrict=subdistrict, created_at__gte=start, id__lte=new[-1].pk)
                .exclude(state=State.REJECTED).order_by("created_at", "id")
                .only("id", "ticket", "title", "description", "created_at", "reporter_phone_index", "category_id",
                      "building_id", "grid_id", "community_id", "latitude", "longitude", "org_path"))
    found = find_repeats(new, pool)
    rows = [CaseRepeat(case_id=pk, earlier=earlier, reasons=[str(r) for r in reasons], evidence=evidence[:200])
            for pk, (earlier, reasons, evidence) in found.items()]
    with transaction.atomic():
        CaseRepeat.objects.bulk_create(rows, ignore_conflicts=True)
        RepeatScan.objects.filter(pk=mark.pk).update(last_case_id=last_id, scanned_at=timezone.now())
        audit.record(actor=None, action="insight.repeat.scan", obj=subdistrict,
                     after={"cases": len(new), "repeats": len(rows), "first_case": new[0].pk, "last_case": last_id})
    return len(rows)


def repeat_scan_all() -> str:
    """The job: every sub-district, until each is read up to its newest case (or 50 batches)."""
    marked = 0
    for sub in OrgNode.objects.filter(kind=NodeKind.SUBDISTRICT).order_by("pk"):
        for _batch in range(50):
            before = RepeatScan.objects.filter(subdistrict=sub).values_list("last_case_id", flat=True).first()
            marked += repeat_scan(subdistrict=sub)
            after = RepeatScan.objects.filter(subdistrict=sub).values_list("last_case_id", flat=True).first()
            if after == before:
                break
    return f"{marked} repeats marked"
