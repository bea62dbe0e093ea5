"""The workflow machine every domain app uses: a transition table a reader sees in one place, and
one guarded function that applies it.

An app declares
- a `Table`: its state, action and actor-kind enums (TextChoices) and its `Transition` rows
  (action × source states → target state, which actor kinds may act, whether a reason is
  required, a note for the generated documentation, and optionally a guard: a condition on the
  row and the actor beyond its state, with the words the documentation shows for it);
- a `Machine` over that table: the model whose `state` it moves (a model with `state`,
  `version` and `updated_at` columns), the history model that gets one row per step (fields
  <history_fk>, seq, action, from_state, to_state, actor, actor_repr, reason, data,
  created_at: copy `cases.CaseTransition`), per-action effects and an after-hook.

Its service then reads the row, decides who the actor is to it (its actor kinds; a row the
actor may not see is the app's 404, before the machine is asked) and calls `Machine.act`. The
machine checks the table (state, actor kind, the row's guard, the reason), runs the action's effect, updates the row with a compare-and-set on
(state, version) — of two people acting at once exactly one wins, the other gets a
ConflictError and nothing changes — then writes the history row, runs the after-hook and
appends the audit event, all in the caller's transaction.

A guard is asked the same question wherever an action could be offered: `Table.allowed_actions`
given the row (and the actor) leaves out what the guard would refuse, so pages and the API never
offer an action that `Machine.act` would refuse for it.

`markdown_rows` and `markdown_page` render any table for the generated documentation.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from jiedao.core import audit
from jiedao.core.errors import ConflictError, DomainError, PermissionError_

# --- the table --------------------------------------------------------------------------------

# A guard: (row as read, the acting user or None, the actor's kinds) -> None (or "") when the
# action may be taken, else the refusal — a translated sentence saying why, which the machine
# raises as a DomainError on the field "action". Asked with actor None it answers for anyone of
# those kinds (what the table documentation and a "who could move this" question need). It may
# read the database; it must not write.
Guard = Callable[[Any, Any, Collection[str]], Any]


@dataclass(frozen=True)
class Transition:
    """One row of a table: `action` from any of `sources` to `target`, by any of `actors`, when
    its `guard` (if any) does not refuse."""

    action: str
    sources: frozenset[str]
    target: str | None  # None: the state does not change (the action only records or edits)
    actors: frozenset[str]
    needs_reason: bool = False
    note: str = ""
    guard: Guard | None = None
    guard_note: str = ""  # the guard's condition in words, for the documentation

    def refusal(self, current: Any, actor: Any = None, kinds: Collection[str] = ()) -> Any:
        """Why the guard refuses this row for `current` and this actor, or None."""
        if self.guard is None:
            return None
        return self.guard(current, actor, frozenset(kinds)) or None


def transition(
    action: str, sources: Iterable[str], target: str | None, actors: Iterable[str],
    needs_reason: bool = False, note: str = "", guard: Guard | None = None, guard_note: str = "",
) -> Transition:
    """A row, written the way a table reads: `transition(A.CLOSE, {S.VERIFIED}, S.CLOSED, {R.ADMIN})`."""
    return Transition(action, frozenset(sources), target, frozenset(actors), needs_reason, note, guard, guard_note)


@dataclass(frozen=True)
class Table:
    """A workflow's whole transition table and the enums that name its values.

    At most one row per (action, source state), so `find` is unambiguous; checked on
    declaration together with every value against its enum."""

    noun: Any  # what refusals call the thing that moves: a (lazy) string such as _("事项")
    states: type[models.TextChoices]
    actions: type[models.TextChoices]
    actors: type[models.TextChoices]
    transitions: tuple[Transition, ...]

    def __post_init__(self) -> None:
        seen: set[tuple[str, str]] = set()
        for row in self.transitions:
            wrong = ({row.action} - set(self.actions.values)) | (row.sources - set(self.states.values)) \
                | ({row.target} - {None, *self.states.values}) | (row.actors - set(self.actors.values))
            if wrong or not row.sources or not row.actors:
                raise ValueError(f"transition {row.action!r}: unknown or missing values {sorted(map(str, wrong))}")
            if row.guard is not None and not row.guard_note:
                raise ValueError(f"transition {row.action!r}: a guard needs its guard_note (the condition in words)")
            for state in row.sources:
                if (row.action, state) in seen:
                    raise ValueError(f"transition {row.action!r} from {state!r} is declared twice")
                seen.add((row.action, state))

    def find(self, action: str, state: str) -> Transition | None:
        """The row for this action from this state, or None if the table has none."""
        for row in self.transitions:
            if row.action == action and state in row.sources:
                return row
        return None

    def allowed_actions(self, state: str, kinds: Collection[str], *, current: Any = None,
                        actor: Any = None) -> list[str]:
        """Actions an actor of these kinds may take from `state`, in table order. Given the row
        (`current`, and the acting user), actions its guards refuse are left out too."""
        allowed: list[str] = []
        kinds = frozenset(kinds)
        for row in self.transitions:
            if state in row.sources and row.actors & kinds and row.action not in allowed:
                if current is not None and row.refusal(current, actor, kinds):
                    continue
                allowed.append(row.action)
        return allowed

    def rows(self) -> list[dict[str, Any]]:
        """The table as plain rows (for an API answer and tests)."""
        return [
            {
                "action": row.action, "action_label": self.actions(row.action).label,
                "from": sorted(row.sources), "to": row.target,
                "actors": sorted(row.actors), "needs_reason": row.needs_reason, "note": row.note,
                "guard": row.guard_note,
            }
            for row in self.transitions
        ]


# --- the generated documentation --------------------------------------------------------------

MARKDOWN_HEADER = ("| 动作 action | 从 from | 到 to | 谁可以 who | 条件 guard | 需说明 reason | 说明 |",
                   "|---|---|---|---|---|---|---|")


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|")


def markdown_rows(table: Table) -> list[str]:
    """The table as Markdown lines (header included); states and actors in their enum order."""
    lines = list(MARKDOWN_HEADER)
    for row in table.transitions:
        sources = "、".join(str(table.states(s).label) for s in table.states.values if s in row.sources)
        target = str(table.states(row.target).label) if row.target else "（不变）"
        actors = "、".join(str(table.actors(a).label) for a in table.actors.values if a in row.actors)
        lines.append(
            f"| {_cell(table.actions(row.action).label)} `{row.action}` | {_cell(sources)} | {_cell(target)} | "
            f"{_cell(actors)} | {_cell(row.guard_note)} | {'是' if row.needs_reason else ''} | {_cell(row.note)} |"
        )
    return lines


def markdown_page(table: Table, *, title: str, intro: Sequence[str] = (), outro: Sequence[str] = ()) -> str:
    """A whole Markdown page: `# title`, the intro lines, the table, the closing lines."""
    lines = [f"# {title}", ""]
    if intro:
        lines += [*intro, ""]
    lines += markdown_rows(table)
    if outro:
        lines += ["", *outro]
    return "\n".join([*lines, ""])


# --- applying the table -----------------------------------------------------------------------


@dataclass(frozen=True)
class Effect:
    """What an action does besides moving the state, worked out from the row before the update."""

    changes: Mapping[str, Any] = field(default_factory=dict)  # column updates: values or F() expressions
    target: str | None = None  # a state other than the table's (e.g. an "unsatisfied" rating reopens)
    data: Mapping[str, Any] = field(default_factory=dict)  # stored on the history row


@dataclass(frozen=True)
class Step:
    """One applied transition, as the after-hook sees it."""

    action: str
    source: str
    target: str
    actor: Any
    reason: str
    at: datetime
    effect: Effect
    before: Any = None  # the row as read before the step (the after-hook gets the row after it)


# (row as read, now, reason, the action's parameters) -> Effect; raises DomainError to refuse.
EffectFn = Callable[[Any, datetime, str, Mapping[str, Any]], Effect]


def username(actor: Any) -> str:
    """The default `actor_repr` of a history row: the user's name ("" for nobody logged in)."""
    return "" if actor is None else actor.get_username()


@dataclass(frozen=True)
class Machine:
    """A table bound to the model it moves, with the app's effects and after-hook."""

    table: Table
    model: type[models.Model]
    history_model: type[models.Model]
    history_fk: str  # the history model's foreign key to `model`
    effects: Mapping[str, EffectFn] = field(default_factory=dict)
    after: Callable[[Any, Step], None] | None = None  # runs after the history row, before the audit event
    actor_repr: Callable[[Any], str] = username

    def check(self, state: str, *, action: str, kinds: Collection[str], reason: str = "", current: Any = None,
              actor: Any = None) -> tuple[Transition, str]:
        """The table's answer for this actor: the row and the cleaned reason, or the refusal.
        Given the row (`current`), its guard is asked too (after the actor's kind)."""
        if action not in self.table.actions.values:
            raise DomainError(_("未知的操作“%(action)s”。") % {"action": action}, field="action")
        label = self.table.actions(action).label
        row = self.table.find(action, state)
        if row is None:
            raise DomainError(
                _("“%(state)s”状态的%(noun)s不能%(action)s。")
                % {"state": self.table.states(state).label, "noun": self.table.noun, "action": label},
                field="action",
            )
        if not row.actors & set(kinds):
            raise PermissionError_(_("您不能对该%(noun)s执行“%(action)s”。") % {"noun": self.table.noun, "action": label})
        if current is not None:
            refusal = row.refusal(current, actor, kinds)
            if refusal:
                raise DomainError(str(refusal), field="action")
        reason = str(reason or "").strip()
        limit = self.history_model._meta.get_field("reason").max_length
        if limit and len(reason) > limit:
            raise DomainError(_("说明不能超过 %(limit)s 个字。") % {"limit": limit}, field="reason")
        if row.needs_reason and not reason:
            raise DomainError(_("请填写%(action)s的说明。") % {"action": label}, field="reason")
        return row, reason

    def act(
        self, current: Any, *, actor: Any, kinds: Collection[str], action: str, reason: str = "",
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Apply `action` to `current` (the row as read in the caller's transaction) for an actor
        of these kinds, and return the row as it now is.

        Refusals (DomainError, PermissionError_) and a lost compare-and-set (ConflictError)
        change nothing. Every applied step writes exactly one history row and one audit event."""
        row, reason = self.check(current.state, action=action, kinds=kinds, reason=reason, current=current, actor=actor)
        now = timezone.now()
        effect_fn = self.effects.get(action)
        effect = effect_fn(current, now, reason, params or {}) if effect_fn else Effect()
        target = effect.target or row.target or current.state
        manager = self.model._default_manager
        # Refusals are raised above and the lost race below, outside this block, so no savepoint
        # is needed: anything failing in here fails the caller's whole transaction anyway.
        with transaction.atomic(savepoint=False):
            won = manager.filter(pk=current.pk, state=current.state, version=current.version).update(
                state=target, version=F("version") + 1, updated_at=now, **effect.changes
            )
            if won:
                self.history_model._default_manager.create(
                    **{self.history_fk: current}, seq=current.version + 1, action=action,
                    from_state=current.state, to_state=target, actor=actor, actor_repr=self.actor_repr(actor),
                    reason=reason, data=dict(effect.data), created_at=now,
                )
                fresh = manager.get(pk=current.pk)
                if self.after is not None:
                    self.after(fresh, Step(action, current.state, target, actor, reason, now, effect, before=current))
                fields = [self.model._meta.get_field(name).attname for name in effect.changes]
                audit.record(
                    actor=actor, action=f"{self.model._meta.label_lower}.{action}", obj=fresh, reason=reason,
                    before={"state": current.state, **audit.snapshot(current, fields)},
                    after={"state": target, **audit.snapshot(fresh, fields)},
                )
        if not won:
            raise ConflictError(_("该%(noun)s刚被他人处理，请刷新后重试。") % {"noun": self.table.noun}, field="action")
        return fresh
