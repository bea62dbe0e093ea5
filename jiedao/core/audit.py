"""The audit trail: append a keyed, hash-chained event for every write, and verify the chain.

Each event's hash is HMAC-SM3(audit key, prev_hash || canonical JSON of its content) (RFC 2104
over SM3, 64-byte block). The audit key lives in the keyring file, outside the database, so
someone who can write the database but not read the keyring can neither forge an event nor
re-hash a chain after altering one. Rows written before the key existed (up to a per-chain seq
recorded next to the key when it was added: the switch point) keep their plain SM3 hash and
are verified as such; every later row must carry the keyed MAC.

The database refuses UPDATE and DELETE of audit rows and any change of a chain head but its
advance (triggers, jiedao.core.audit_guard); signed checkpoints of every chain head are written
outside the database (jiedao.core.audit_checkpoints) and `verify_chain` checks the chains
against them, so a truncated tail is caught even by someone who can drop the triggers.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives import hashes, hmac
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from jiedao.core import crypto
from jiedao.core.context import current_request
from jiedao.core.fastpath import insert_one
from jiedao.core.models import AuditChainHead, AuditEvent

log = logging.getLogger(__name__)

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


def hmac_sm3_hex(key: bytes, data: bytes) -> str:
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize().hex()


def audit_key(*, fresh: bool = False) -> tuple[bytes, dict[str, int]]:
    """(the audit MAC key, {chain: last unkeyed seq}) from the keyring; the key is added on first
    use, the switch point being each chain's head at that moment (rows up to it stay unkeyed).
    `fresh` re-reads a keyring file changed since it was cached: appends ask for it once their
    chain head is locked, so a key rotated by another process is used from the first row after."""
    ring = crypto.current_keyring() if fresh else crypto.get_keyring()
    if not ring.audit_key:
        ring = _add_audit_key()
    return ring.audit_key, ring.audit_legacy


def all_audit_keys() -> list[bytes]:
    ring = crypto.get_keyring()
    return [ring.audit_key, *(key for key, _until in reversed(ring.audit_retired))]


def rotate_key() -> dict[str, int]:
    """A new audit key signs every row from now on; the old one is kept, retired, with the last
    seq per chain it signed. All chain heads are locked while the keyring changes, so no append
    straddles the switch. Returns {chain: last seq under the old key}."""
    import fcntl

    audit_key()  # a keyring without an audit key gets one first
    path = crypto.keyring_path()
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with transaction.atomic():
            record(actor=None, action="core.audit.rotate_key", object_type="keyring", object_id="audit",
                   reason="轮换审计密钥")
            table = connection.ops.quote_name(AuditChainHead._meta.db_table)
            lock_rows = " FOR UPDATE" if connection.vendor == "postgresql" else ""
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT chain, last_seq FROM {table}{lock_rows}")
                until = {chain: int(seq) for chain, seq in cursor.fetchall()}
            ring = crypto.reload_keyring()
            ring.audit_retired.append((ring.audit_key, until))
            ring.audit_key = secrets.token_bytes(32)
            ring.save()  # last: the transaction only commits after it
        crypto.reload_keyring()
    return until


def _add_audit_key() -> crypto.Keyring:
    import fcntl


    path = crypto.keyring_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # several processes starting at once add one key
        ring = crypto.reload_keyring()
        if not ring.audit_key:
            ring.audit_legacy = {
                chain: seq for chain, seq in AuditChainHead.objects.filter(last_seq__gt=0).values_list("chain", "last_seq")
            }
            for chain, seq in list(ring.audit_legacy.items()):
                last = AuditEvent.objects.filter(chain=chain, seq=seq).first()
                if last is not None and compute_hash(last) != last.hash:
                    # Keyed rows beside a keyring without the audit key: the keyring that signed
                    # them is missing (a restore without it). They are not declared legacy, so
                    # `audit verify` reports them until the right keyring is put back.
                    del ring.audit_legacy[chain]
                    log.error("audit chain %s is keyed but the keyring %s has no audit key: restore the keyring",
                              chain, path)
            ring.audit_key = secrets.token_bytes(32)
            ring.save()
            ring = crypto.reload_keyring()
    return ring


class _JsonNative(dict):
    """A snapshot already round-tripped through JSON (see `snapshot`): not converted again."""


def _jsonable(value: Any) -> Any:
    """Round-trip through JSON so what we hash is exactly what the database gives back."""
    if value is None or type(value) is _JsonNative:
        return value
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False))


def jsonable(values: dict[str, Any]) -> dict[str, Any]:
    """A dict of field values (attnames) made JSON-native the way `snapshot` makes them, for
    writers that build an event's before/after themselves."""
    return _JsonNative(_jsonable(values))


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# json.dumps with these options builds a new encoder on every call; one instance, reused.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
_quote = json.encoder.encode_basestring  # a str as JSON (ensure_ascii=False), the encoder's own


def _canonical_text(value: Any) -> str:
    """One value as `_content` writes it inside the event's JSON (json.dumps with sort_keys,
    ensure_ascii=False and compact separators: the same text)."""
    if type(value) is str:
        return _quote(value)
    if value is None:
        return "null"
    return _CANONICAL.encode(value)


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


def compute_hash(event: AuditEvent, key: bytes | None = None) -> str:
    """The event's link: keyed (HMAC-SM3) when `key` is given, plain SM3 for legacy rows."""
    data = event.prev_hash.encode() + b"|" + _content(event)
    return hmac_sm3_hex(key, data) if key else sm3_hex(data)


def key_for(chain: str, seq: int, key: bytes, legacy: dict[str, int]) -> bytes | None:
    """The key that signed row `seq` of `chain`: none for legacy rows, a retired key for rows up
    to its retirement, else `key` (the current one)."""
    if seq <= legacy.get(chain, 0):
        return None
    for old, until in crypto.get_keyring().audit_retired:
        if seq <= until.get(chain, 0):
            return old
    return key


def snapshot(obj: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """The audited view of a model instance: concrete fields, foreign keys as ids.

    Models may exclude fields (secrets, hashes) by listing them in `audit_exclude`.
    """
    if fields is None:
        attnames = _SNAPSHOT_FIELDS.get(type(obj))
        if attnames is None:
            excluded = set(getattr(obj, "audit_exclude", ()))
            attnames = _SNAPSHOT_FIELDS[type(obj)] = tuple(
                f.attname for f in obj._meta.concrete_fields if f.name not in excluded)
    else:
        excluded = set(getattr(obj, "audit_exclude", ()))
        attnames = tuple(f.attname for f in obj._meta.concrete_fields
                         if f.name not in excluded and (f.name in fields or f.attname in fields))
    # Each value as the JSON round trip (`_jsonable`) would give it back, without serializing the
    # whole row twice: JSON's own scalars as they are, datetimes, dates, decimals and UUIDs as
    # DjangoJSONEncoder writes them, anything else (JSON columns, lists) through the round trip.
    data: dict[str, Any] = {}
    for name in attnames:
        value = getattr(obj, name)
        kind = type(value)
        if value is None or kind in _JSON_SCALARS:
            data[name] = value
        elif kind in _ENCODED:
            data[name] = _ENCODER.default(value)
        else:
            data[name] = _jsonable(value)
    return _JsonNative(data)


_SNAPSHOT_FIELDS: dict[type, tuple[str, ...]] = {}
# float is left out: NaN and infinities are not JSON values (the round trip keeps them, a JSON
# column would not), so they go through `_jsonable` like anything unusual.
_JSON_SCALARS = frozenset({str, int, bool})
_ENCODED = frozenset({datetime, date, Decimal, UUID})  # DjangoJSONEncoder.default's str of them
_ENCODER = DjangoJSONEncoder()


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
    head: tuple[str, int | None, str | None] | None = None,
) -> AuditEvent:
    """Append one event to the chain. Runs inside the caller's transaction (or its own).

    `head` is (chain, last_seq, last_hash) as the caller's own statement read them with
    `head_lock_sql`, locking the chain's head in the caller's open transaction (the intake does
    it in its one statement, saving a round trip); missing values (no head row) lock it here."""
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)
    info = current_request()
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    if head is not None:
        if not connection.in_atomic_block:
            raise RuntimeError("a chain head read by the caller is locked only inside its transaction")
        chain, last_seq, last_hash = head
    else:
        chain, last_seq, last_hash = chain or _pick_chain(), None, None
    # No savepoint: inside the caller's transaction a failure here fails the whole transaction
    # anyway, and a savepoint costs two more round trips on every write of the platform.
    with transaction.atomic(savepoint=False):
        if last_seq is None:
            last_seq, last_hash = _lock_head(chain)
        key, _legacy = audit_key(fresh=True)
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
        event.hash = compute_hash(event, key)
        insert_one(event)
        _move_head(chain, event.seq, event.hash)
    return event


# Every write of the platform appends an event, so the head is locked and moved with statements
# written once rather than compiled by the ORM on each call.
def pick_chain() -> str:
    """The chain a new event goes to (spread at random over CHAIN_COUNT chains)."""
    return _pick_chain()


def head_lock_sql(chain: str) -> tuple[str, list[Any]]:
    """(SQL, parameters) of the SELECT that reads (last_seq, last_hash) of `chain` and locks its
    head row until the transaction ends (on SQLite the transaction's write lock already excludes
    other writers): for `record`, and for a caller that runs it within a statement of its own
    and passes what it read to `record(head=...)`."""
    table = connection.ops.quote_name(AuditChainHead._meta.db_table)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return f"SELECT last_seq, last_hash FROM {table} WHERE chain = %s{lock}", [chain]


def _lock_head(chain: str) -> tuple[int, str]:
    """(last_seq, last_hash) of the chain, its head row locked until the transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute(*head_lock_sql(chain))
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
    from jiedao.core.bulk import JsonText, db_value, insert_rows

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
        key, _legacy = audit_key(fresh=True)
        prev = prev or GENESIS
        rows = []
        # The canonical JSON of `_content`, assembled from the batch's constant parts and each
        # event's own, and the HMAC keyed once and copied per event: the same bytes and the same
        # links as compute_hash (verify_chain recomputes them that way), at a fraction of the cost.
        dump = _canonical_text
        head = '{"action":'
        actor_part = ',"actor_id":' + dump(actor_id) + ',"actor_repr":' + dump(actor_repr) + ',"after":'
        middle = (',"chain":' + dump(chain) + ',"created_at":' + dump(_timestamp(now)) + ',"ip_address":'
                  + dump(info.ip_address) + ',"object_id":')
        tail = ',"reason":' + dump(reason) + ',"request_id":' + dump(info.request_id) + ',"seq":'
        end = ',"user_agent":' + dump(info.user_agent) + "}"
        keyed = hmac.HMAC(key, hashes.SM3()) if key else None
        # The rows go to the driver as they are (insert_rows(prepared=True)): the batch's one
        # timestamp converted once, the JSON texts wrapped as the column takes them.
        created = db_value(AuditEvent, "created_at", now)
        as_json = JsonText if connection.vendor != "postgresql" else (lambda text: db_value(AuditEvent, "after", JsonText(text)))
        dumped: dict[str, str] = {}  # actions and object types repeat over a batch
        for action, object_type, object_id, object_repr, before, after in events:
            seq += 1
            object_id, object_repr = str(object_id), object_repr[:200]
            # before/after are serialised once: the canonical JSON hashed here is also what is
            # stored (bulk.JsonText), the same value the column would hold from a second encoding.
            after_json, before_json = dump(after), dump(before)
            action_json = dumped.get(action)
            if action_json is None:
                action_json = dumped[action] = dump(action)
            type_json = dumped.get(object_type)
            if type_json is None:
                type_json = dumped[object_type] = dump(object_type)
            data = "".join((
                prev, "|", head, action_json, actor_part, after_json, ',"before":', before_json, middle,
                _quote(object_id), ',"object_repr":', _quote(object_repr), ',"object_type":', type_json, tail,
                str(seq), end,
            )).encode()
            if keyed is None:
                link = sm3_hex(data)
            else:
                mac = keyed.copy()
                mac.update(data)
                link = mac.finalize().hex()
            rows.append((chain, seq, created, actor_id, actor_repr, action, object_type, object_id, object_repr,
                         None if before is None else as_json(before_json),
                         None if after is None else as_json(after_json),
                         reason, info.request_id, info.ip_address, info.user_agent, prev, link))
            prev = link
        insert_rows(AuditEvent, _EVENT_FIELDS, rows, prepared=True)
        _move_head(chain, seq, prev)
    return len(rows)


@dataclass(frozen=True)
class ChainProblem:
    chain: str
    seq: int | None
    event_id: int | None
    message: str

    @property
    def where(self) -> str:
        parts = [f"chain {self.chain}"] if self.chain else []
        if self.seq is not None:
            parts.append(f"seq={self.seq}")
        if self.event_id:
            parts.append(f"id={self.event_id}")
        return ", ".join(parts)


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    problems: tuple[ChainProblem, ...] = ()
    checkpoints: int = 0  # checkpoint lines read
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def problem(self) -> ChainProblem | None:
        return self.problems[0] if self.problems else None


# --- the signed checkpoints' file (written by core.audit_checkpoints) ---------------------------


def default_path() -> Path:
    return Path(settings.DATA_DIR) / "audit" / "checkpoints.jsonl"


def _canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def sign(body: dict, key: bytes) -> str:
    return hmac_sm3_hex(key, b"jiedao-audit-checkpoint|" + _canonical(body))


@dataclass
class Checkpoints:
    path: Path
    lines: int = 0
    heads: dict[str, tuple[int, str, str]] = dataclass_field(default_factory=dict)  # chain -> (seq, hash, at)
    bad_lines: list[tuple[int, str]] = dataclass_field(default_factory=list)


def read(path: str | Path | None = None) -> Checkpoints:
    """Every checkpoint line of the file, its signature checked; per chain the highest seq signed."""
    audit_key()
    keys = all_audit_keys()
    result = Checkpoints(Path(path) if path else default_path())
    if not result.path.exists():
        return result
    with open(result.path, encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            result.lines += 1
            try:
                line = json.loads(text)
                mac = line.pop("mac")
                heads = line["heads"]
                at = line["at"]
            except (ValueError, KeyError, TypeError, AttributeError):
                result.bad_lines.append((number, "无法解析 / cannot be parsed"))
                continue
            if not isinstance(mac, str) or not any(sign(line, key) == mac for key in keys):
                result.bad_lines.append((number, "的签名不符：被改动或伪造 / signature does not match: altered or forged"))
                continue
            for chain, (seq, digest) in heads.items():
                if seq > result.heads.get(chain, (0, "", ""))[0]:
                    result.heads[chain] = (int(seq), str(digest), str(at))
    return result


def _events(chain: str) -> Iterator[AuditEvent]:
    return AuditEvent.objects.filter(chain=chain).order_by("seq").iterator(chunk_size=2000)


def _walk(name: str, key: bytes, legacy: dict[str, int], expected: dict[int, str]) -> tuple[int, int, str, list[ChainProblem]]:
    """Check one chain's links and MACs, and the hashes a checkpoint recorded at some seqs
    (`expected`: {seq: hash}). Returns (rows read, last good seq, its hash, problems); the walk
    stops at the first broken link."""
    expected_prev = GENESIS
    expected_seq = 1
    checked = 0
    for event in _events(name):
        checked += 1
        where = f"审计事件 id={event.id}（链 {name} 第 {event.seq} 条）"
        problem = None
        if event.seq != expected_seq:
            problem = (expected_seq, f"{where} 之前缺少第 {expected_seq} 条：有记录被删除 / event seq {expected_seq} is missing")
        elif event.prev_hash != expected_prev:
            problem = (event.seq, f"{where} 的前一哈希与上一条不符：上一条被改动或删除 / previous-hash link broken")
        elif compute_hash(event, key_for(name, event.seq, key, legacy)) != event.hash:
            if event.seq > legacy.get(name, 0):
                problem = (event.seq, f"{where} 的密钥签名（HMAC-SM3）不符：该记录被改动、伪造或整链被重算"
                                      f" / keyed MAC mismatch: row altered, forged or chain re-hashed")
            else:
                problem = (event.seq, f"{where} 的内容与哈希不符：该记录被改动 / row content does not match its hash")
        elif event.seq in expected and expected[event.seq] != event.hash:
            problem = (event.seq, f"{where} 与已签名的检查点不符：链被重写 / differs from the signed checkpoint: chain rewritten")
        if problem is not None:
            return checked, expected_seq - 1, expected_prev, [ChainProblem(name, problem[0], event.id, problem[1])]
        expected_prev = event.hash
        expected_seq += 1
    return checked, expected_seq - 1, expected_prev, []


def verify_chain(chain: str | None = None, *, checkpoints_path: str | None = None) -> VerifyResult:
    """Walk each chain in order and report, per chain, the first broken link, a MAC that does not
    match, a chain that is not one of the platform's, and a tail shorter than the last signed
    checkpoint; also missing append-only triggers and checkpoint lines whose signature fails."""
    from jiedao.core import audit_guard

    key, legacy = audit_key(fresh=True)
    problems: list[ChainProblem] = []
    notes: list[str] = []
    heads = {head.chain: head for head in AuditChainHead.objects.all()}
    if chain is None:
        for name in chain_names():
            if name not in heads:
                problems.append(ChainProblem(
                    name, None, None,
                    f"审计链 {name} 的链头记录缺失：整条链可能被删除 / the head of chain {name} is missing",
                ))
    marks = read(checkpoints_path)
    for line_no, message in marks.bad_lines:
        problems.append(ChainProblem("", None, None, f"检查点文件 {marks.path} 第 {line_no} 行{message}"))
    if marks.lines == 0:
        notes.append(f"尚无检查点 / no checkpoints yet in {marks.path}")
    stored = set(AuditEvent.objects.values_list("chain", flat=True).distinct())
    chains = [chain] if chain else sorted(set(heads) | stored | set(marks.heads))
    known = set(chain_names())
    checked = 0
    for name in chains:
        mark = marks.heads.get(name)
        if name not in known:
            first = AuditEvent.objects.filter(chain=name).order_by("seq").values_list("id", "seq").first()
            problems.append(ChainProblem(
                name, first[1] if first else None, first[0] if first else None,
                f"链 {name} 不是本系统的审计链：伪造的链 / chain {name} is not one of the platform's chains: forged",
            ))
        expected = {mark[0]: mark[1]} if mark else {}
        count, last_seq, last_hash, found = _walk(name, key, legacy, expected)
        checked += count
        problems.extend(found)
        if found:
            continue
        head = heads.get(name)
        if head is not None and (head.last_seq != last_seq or (head.last_seq and head.last_hash != last_hash)):
            problems.append(ChainProblem(
                name, head.last_seq, None,
                f"链 {name} 的末尾记录（第 {head.last_seq} 条）缺失或被改动 / the end of the chain was truncated",
            ))
        elif mark and last_seq < mark[0]:
            problems.append(ChainProblem(
                name, mark[0], None,
                f"链 {name} 只到第 {last_seq} 条，但 {mark[2]} 的签名检查点记到第 {mark[0]} 条：末尾被截断"
                f" / chain ends at seq {last_seq}, the signed checkpoint of {mark[2]} recorded seq {mark[0]}: tail truncated",
            ))
    missing_guards = audit_guard.missing_triggers()
    if missing_guards:
        problems.append(ChainProblem(
            "", None, None,
            "数据库中审计表的只追加触发器缺失 / the audit tables' append-only triggers are missing: "
            + ", ".join(missing_guards),
        ))
    return VerifyResult(checked, tuple(problems), marks.lines, tuple(notes))
