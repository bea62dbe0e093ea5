"""Writes of the insight app: training a classifier version from the platform's own cases (plus
an optional import of labelled messages), the activation rule, roll-back, the weekly job, and
the record of what was suggested when a case was registered.

Activation rule: a new version becomes the one that suggests only if its macro-F1 on the
held-back slice (the most recent cases, see selectors.split_history) is at least the active
version's macro-F1 on the same slice. Without enough history there is no slice: the version is
a cold start from the catalogue and replaces only another cold start (or nothing)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from jiedao.cases.models import Case, Category
from jiedao.core import audit, scope
from jiedao.core.errors import ConflictError, DomainError, PermissionError_
from jiedao.core.permissions import Perm
from jiedao.insight import selectors
from jiedao.insight.models import CaseSuggestion, ClassifierVersion

log = logging.getLogger(__name__)
Status, Kind, Trigger = ClassifierVersion.Status, ClassifierVersion.Kind, ClassifierVersion.Trigger
STALE_TRAINING = timedelta(hours=2)  # a "training" row older than this was left by a dead process


def _require_manage(actor: Any) -> None:
    """Administrators (MANAGE_INSIGHT anywhere) manage the classifier; None is the system itself."""
    if actor is not None and not scope.has_perm_anywhere(actor, Perm.MANAGE_INSIGHT):
        raise PermissionError_("只有系统管理员可以训练或切换分类模型。")


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
    raise ConflictError("无法分配模型版本号，请稍后重试。")


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
            raise DomainError(f"类别对照“{label}={target}”中的“{target}”不是启用的事项类别（代码或名称）。", field="map")
        mapping[str(label).strip()] = code
    try:
        messages = tio.read_messages(path, require_label=True)
    except (OSError, ValueError, KeyError) as exc:
        raise DomainError(f"无法读取导入文件：{exc}", field="import") from None
    examples, unmapped = [], Counter()
    for m in messages:
        code = mapping.get(m.category) or by_key.get(m.category or "")
        if code is None:
            unmapped[m.category] += 1
            continue
        examples.append(Example(title=m.title, text=m.text, label=code, id=f"import:{m.id}"))
    if messages and not examples:
        labels = "、".join(f"{k}（{v}）" for k, v in unmapped.most_common(8))
        raise DomainError(f"导入文件中的类别都对应不到启用的事项类别：{labels}。请用类别对照（如 --map 原类别=类别代码）指定。",
                          field="import")
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
    from jiedao.insight.text.classifier import train

    leaves = selectors.catalogue_leaves()
    if len(leaves) < 2:
        raise DomainError("事项目录中启用的类别少于两个，无法训练分类模型。", field="catalogue")
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
            notes.append("导入中未对应的类别：" + "、".join(f"{k}（{v}）" for k, v in unmapped.most_common(5)))
        if split.holdout:
            kind = Kind.HISTORY
            config = None
        else:
            kind = Kind.COLD_START
            config = selectors.cold_start_config() if not imported and not split.train else None
        examples = selectors.as_examples(split.train) + imported + catalogue_examples
        model = train(examples, rows, seeds=seeds, config=config)
        version.kind = kind
        version.model_data = model.to_bytes()
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
            holdout = selectors.as_examples(split.holdout)
            scores = _scores(model, holdout)
            for key, value in scores.items():
                setattr(version, key, value)
            if active is not None and active.model_data:
                try:
                    previous = _scores(selectors.load_model(active), holdout)
                    version.compared_with = active
                    version.compared_scores = {"accuracy": previous["accuracy"], "macro_f1": previous["macro_f1"]}
                except ValueError as exc:  # an unreadable old model cannot be compared: the new one wins
                    notes.append(f"当前版本 v{active.number} 无法读取（{exc}）")
        version.train_seconds = round(time.perf_counter() - started, 2)
        activate, version.decision = _decide(version, active, split)
        version.message = "；".join(notes)[:500]
        version.status = Status.READY
        version.finished_at = timezone.now()
        with transaction.atomic():
            version.save()
            audit.record(actor=actor, action="insight.classifier.train", obj=version, after=_version_audit(version),
                         reason=f"{Trigger(version.trigger).label}；导入 {import_rows} 行" if import_path else str(
                             Trigger(version.trigger).label))
            if activate:
                _activate(actor=actor, version=version, action="insight.classifier.activate")
    except DomainError:
        raise
    except Exception as exc:
        log.exception("training classifier version %s failed", version.number)
        ClassifierVersion.objects.filter(pk=version.pk).update(
            status=Status.FAILED, finished_at=timezone.now(), message=f"训练失败：{type(exc).__name__}: {exc}"[:500])
        raise
    return version


def _decide(version: ClassifierVersion, active: ClassifierVersion | None, split) -> tuple[bool, str]:
    """(activate?, the reason in words) — the activation rule."""
    if active is None:
        return True, "尚无启用的版本，直接启用。"
    if split.holdout:
        if not version.compared_scores:
            return True, "当前版本无法在留出集上评估，启用新版本。"
        old = version.compared_scores["macro_f1"]
        if version.macro_f1 >= old:
            return True, (f"留出集 {version.holdout_cases} 件上宏平均 F1 {version.macro_f1:.3f} ≥ 当前版本 "
                          f"v{active.number} 的 {old:.3f}，已启用。")
        return False, (f"留出集 {version.holdout_cases} 件上宏平均 F1 {version.macro_f1:.3f} < 当前版本 "
                       f"v{active.number} 的 {old:.3f}，未启用。")
    if active.kind == Kind.COLD_START or active.macro_f1 is None:
        return True, "历史事项不足，按事项目录冷启动，替换当前的冷启动版本。"
    return False, f"历史事项不足，无法与用历史事项训练的当前版本 v{active.number} 比较，未启用。"


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
    transaction.on_commit(selectors.forget_model)


def classifier_activate(*, actor: Any, version: ClassifierVersion, reason: str = "") -> ClassifierVersion:
    """Make an earlier (or any finished) version the one that suggests: the roll-back."""
    _require_manage(actor)
    with transaction.atomic():
        current = ClassifierVersion.objects.select_for_update().get(pk=version.pk)
        if current.status != Status.READY or not current.model_data:
            raise DomainError(f"版本 v{current.number} 尚未训练完成，不能启用。", field="version")
        if current.is_active:
            raise ConflictError(f"版本 v{current.number} 已是当前使用的版本。", field="version")
        reason = (reason or "").strip()[:500]
        _activate(actor=actor, version=current, action="insight.classifier.rollback", reason=reason)
    return current


def classifier_request(*, actor: Any) -> ClassifierVersion:
    """Queue a retraining (the page's "retrain now"); the caller hands it to jiedao.core.tasks."""
    _require_manage(actor)
    with transaction.atomic():
        ClassifierVersion.objects.filter(status=Status.TRAINING, created_at__lt=timezone.now() - STALE_TRAINING).update(
            status=Status.FAILED, message="训练进程已中断。", finished_at=timezone.now())
        busy = selectors.pending_version()
        if busy is not None:
            raise ConflictError(f"版本 v{busy.number} 正在训练，请等它完成。", field="version")
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


def suggestion_record(*, case: Case, suggestion: selectors.Suggestion | None) -> CaseSuggestion | None:
    """Keep what was suggested (category, confidence, version) and what was chosen at creation.
    Written in the case's creation transaction, whose audit event covers it."""
    if suggestion is None or not suggestion.items:
        return None
    return CaseSuggestion.objects.create(
        case=case, version_id=suggestion.version_id, suggested=suggestion.top,
        confidence=round(suggestion.confidence, 4), low_confidence=suggestion.low_confidence,
        chosen_id=case.category_id,
    )
