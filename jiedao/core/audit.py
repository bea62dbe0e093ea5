"""The audit trail: append a hash-chained event for every write, and verify the chain.

Each event's hash is SM3(prev_hash || canonical JSON of its content). Changing any stored
field, removing a row, or truncating the end of the chain is detected by `verify_chain`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from jiedao.core.context import current_request
from jiedao.core.fastpath import insert_one
from jiedao.core.models import AuditChainHead, AuditEvent

GENESIS = "0" * 64
# Events are spread over a fixed set of chains: appending locks a chain's head row until the
# transaction commits, so one chain would serialize every write of the platform behind one
# commit (fsync) at a time. Each chain is verified on its own; all heads are created by a
# migration, so deleting a whole chain (rows and head) is detected too.
CHAIN_COUNT = 16


def chain_names() -> list[str]:
    return [f"main-{n:02d}" for n in range(CHAIN_COUNT)]


def ensure_chain_heads() -> None:
    """Create any missing chain head (the migration does it; tests that flush tables need it)."""
    existing = set(AuditChainHead.objects.values_list("chain", flat=True))
    AuditChainHead.objects.bulk_create(
        [AuditChainHead(chain=name) for name in chain_names() if name not in existing], ignore_conflicts=True
    )


def _pick_chain() -> str:
    return f"main-{random.randrange(CHAIN_COUNT):02d}"


def sm3_hex(data: bytes) -> str:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


class _JsonNative(dict):
    """A snapshot already round-tripped through JSON (see `snapshot`): not converted again."""


def _jsonable(value: Any) -> Any:
    """Round-trip through JSON so what we hash is exactly what the database gives back."""
    if value is None or type(value) is _JsonNative:
        return value
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False))


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _content(event: AuditEvent) -> bytes:
    fields = {
        "chain": event.chain,
        "seq": event.seq,
        "created_at": _timestamp(event.created_at),
        "actor_id": event.actor_id,
        "actor_repr": event.actor_repr,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
        "request_id": event.request_id,
        "ip_address": event.ip_address,
        "user_agent": event.user_agent,
    }
    return json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def compute_hash(event: AuditEvent) -> str:
    return sm3_hex(event.prev_hash.encode() + b"|" + _content(event))


def snapshot(obj: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """The audited view of a model instance: concrete fields, foreign keys as ids.

    Models may exclude fields (secrets, hashes) by listing them in `audit_exclude`.
    """
    excluded = set(getattr(obj, "audit_exclude", ()))
    data: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name in excluded or (fields is not None and field.name not in fields and field.attname not in fields):
            continue
        data[field.attname] = getattr(obj, field.attname)
    return _JsonNative(_jsonable(data))


def event_for(action: str, obj: models.Model, before: dict | None, after: dict | None) -> tuple:
    """An item for record_many from a model instance."""
    return (action, obj._meta.label_lower, obj.pk, str(obj), before, after)


def changed(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that differ, for compact update events."""
    keys = [k for k in after if before.get(k) != after.get(k) and k != "updated_at"]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def record(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    object_repr: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
    chain: str | None = None,
) -> AuditEvent:
    """Append one event to the chain. Runs inside the caller's transaction (or its own)."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)
    info = current_request()
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    chain = chain or _pick_chain()
    # No savepoint: inside the caller's transaction a failure here fails the whole transaction
    # anyway, and a savepoint costs two more round trips on every write of the platform.
    with transaction.atomic(savepoint=False):
        last_seq, last_hash = _lock_head(chain)
        event = AuditEvent(
            chain=chain,
            seq=last_seq + 1,
            created_at=timezone.now(),
            actor_id=actor.pk if is_user else None,
            actor_repr=(actor.get_username() if is_user else str(actor or "系统"))[:150],
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            object_repr=object_repr[:200],
            before=_jsonable(before),
            after=_jsonable(after),
            reason=reason[:500],
            request_id=info.request_id,
            ip_address=info.ip_address,
            user_agent=info.user_agent,
            prev_hash=last_hash or GENESIS,
        )
        event.hash = compute_hash(event)
        insert_one(event)
        _move_head(chain, event.seq, event.hash)
    return event


# Every write of the platform appends an event, so the head is locked and moved with statements
# written once rather than compiled by the ORM on each call.
def _lock_head(chain: str) -> tuple[int, str]:
    """(last_seq, last_hash) of the chain, its head row locked until the transaction ends (on
    SQLite the transaction's write lock already excludes other writers)."""
    table = connection.ops.quote_name(AuditChainHead._meta.db_table)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT last_seq, last_hash FROM {table} WHERE chain = %s{lock}", [chain])
        row = cursor.fetchone()
    if row is None:  # heads come from a migration; a test that flushed the table recreates them
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(chain=chain)
        return head.last_seq, head.last_hash
    return row[0], row[1]


def _move_head(chain: str, seq: int, digest: str) -> None:
    table = connection.ops.quote_name(AuditChainHead._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET last_seq = %s, last_hash = %s WHERE chain = %s", [seq, digest, chain])


_EVENT_FIELDS = (
    "chain", "seq", "created_at", "actor", "actor_repr", "action", "object_type", "object_id", "object_repr",
    "before", "after", "reason", "request_id", "ip_address", "user_agent", "prev_hash", "hash",
)


def record_many(
    *, actor: Any, events: list[tuple[str, str, Any, str, dict | None, dict | None]], reason: str = "",
    chain: str | None = None,
) -> int:
    """Append many events at once (bulk imports), under one lock. Each event is
    (action, object_type, object_id, object_repr, before, after); `before`/`after` must already
    be JSON-native (as `snapshot` returns them)."""
    from jiedao.core.bulk import insert_rows

    if not events:
        return 0
    info = current_request()
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    actor_id = actor.pk if is_user else None
    actor_repr = (actor.get_username() if is_user else str(actor or "系统"))[:150]
    now = timezone.now()
    reason = reason[:500]
    chain = chain or _pick_chain()
    with transaction.atomic():
        seq, prev = _lock_head(chain)
        prev = prev or GENESIS
        rows = []
        event = AuditEvent(chain=chain, created_at=now, actor_id=actor_id, actor_repr=actor_repr, reason=reason,
                           request_id=info.request_id, ip_address=info.ip_address, user_agent=info.user_agent)
        for action, object_type, object_id, object_repr, before, after in events:
            seq += 1
            # One scratch instance, refilled per event: the hash is computed exactly as record() does.
            event.seq, event.action, event.before, event.after, event.prev_hash = seq, action, before, after, prev
            event.object_type, event.object_id, event.object_repr = object_type, str(object_id), object_repr[:200]
            prev = compute_hash(event)
            rows.append((chain, seq, now, actor_id, actor_repr, action, event.object_type, event.object_id,
                         event.object_repr, before, after, reason, info.request_id, info.ip_address,
                         info.user_agent, event.prev_hash, prev))
        insert_rows(AuditEvent, _EVENT_FIELDS, rows)
        _move_head(chain, seq, prev)
    return len(rows)


@dataclass(frozen=True)
class ChainProblem:
    chain: str
    seq: int | None
    event_id: int | None
    message: str


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    problem: ChainProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _events(chain: str) -> Iterator[AuditEvent]:
    return AuditEvent.objects.filter(chain=chain).order_by("seq").iterator(chunk_size=2000)


def verify_chain(chain: str | None = None) -> VerifyResult:
    """Walk each chain in order and report the first broken link, if any."""
    heads = set(AuditChainHead.objects.values_list("chain", flat=True))
    if chain is None:
        missing = [name for name in chain_names() if name not in heads]
        if missing:
            return VerifyResult(0, ChainProblem(
                missing[0], None, None,
                f"审计链 {missing[0]} 的链头记录缺失：整条链可能被删除 / the head of chain {missing[0]} is missing",
            ))
    chains = [chain] if chain else sorted(heads | set(AuditEvent.objects.values_list("chain", flat=True).distinct()))
    checked = 0
    for name in chains:
        expected_prev = GENESIS
        expected_seq = 1
        for event in _events(name):
            checked += 1
            where = f"审计事件 id={event.id}（链 {name} 第 {event.seq} 条）"
            if event.seq != expected_seq:
                return VerifyResult(checked, ChainProblem(
                    name, expected_seq, event.id,
                    f"{where} 之前缺少第 {expected_seq} 条：有记录被删除 / event seq {expected_seq} is missing",
                ))
            if event.prev_hash != expected_prev:
                return VerifyResult(checked, ChainProblem(
                    name, event.seq, event.id,
                    f"{where} 的前一哈希与上一条不符：上一条被改动或删除 / previous-hash link broken",
                ))
            if compute_hash(event) != event.hash:
                return VerifyResult(checked, ChainProblem(
                    name, event.seq, event.id,
                    f"{where} 的内容与哈希不符：该记录被改动 / row content does not match its hash",
                ))
            expected_prev = event.hash
            expected_seq += 1
        head = AuditChainHead.objects.filter(chain=name).first()
        if head is not None and (head.last_seq != expected_seq - 1 or (head.last_seq and head.last_hash != expected_prev)):
            return VerifyResult(checked, ChainProblem(
                name, head.last_seq, None,
                f"链 {name} 的末尾记录（第 {head.last_seq} 条）缺失或被改动 / the end of the chain was truncated",
            ))
    return VerifyResult(checked, None)
