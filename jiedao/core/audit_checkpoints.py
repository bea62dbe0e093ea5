"""Signed checkpoints of every audit chain head, written outside the database.

The periodic job `audit_checkpoint` (and `jiedao audit checkpoint`) appends one JSON line to
`$JIEDAO_DATA_DIR/audit/checkpoints.jsonl` (mode 0600) and, when `JIEDAO_AUDIT_CHECKPOINT_SINK`
is set, to a second place: a file path (another disk, a mounted share) or `syslog` (the local
syslog, which can forward it to a log host):

    {"at": "2026-12-06T20:00:00.000000Z", "heads": {"main-00": [41, "<hash>"], ...}, "mac": "<hex>"}

`mac` is HMAC-SM3 under the audit key (in the keyring) of the line without it. Before a chain's
head is signed, the events added since its previous checkpoint are verified (links and keyed
MACs), so a checkpoint never vouches for a forged tail. `audit verify` reads the file (or the
copy given with `--checkpoints`) and reports a chain shorter than, or differing from, its last
signed checkpoint, and any line whose signature fails.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from jiedao.core import audit
from jiedao.core.audit import default_path, sign
from jiedao.core.models import AuditChainHead, AuditEvent

log = logging.getLogger(__name__)


def _last(path: Path, key: bytes) -> dict[str, tuple[int, str, str]]:
    """The heads of the file's last line, if its signature holds (the file is only appended to,
    so the job reads its tail, not the whole history; `read` checks every line)."""
    if not path.exists():
        return {}
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 256 * 1024))
        lines = handle.read().decode("utf-8", errors="replace").strip().splitlines()
    try:
        line = json.loads(lines[-1])
        mac = line.pop("mac")
        if not any(sign(line, known) == mac for known in audit.all_audit_keys()):  # a rotated key's line too
            raise ValueError("signature")
        return {chain: (int(seq), str(digest), line["at"]) for chain, (seq, digest) in line["heads"].items()}
    except (ValueError, KeyError, TypeError, IndexError):
        log.error("the last audit checkpoint line of %s does not verify; chains are checked from their start", path)
        return {}


def _verified_head(chain: str, since: tuple[int, str] | None, key: bytes, legacy: dict[str, int]) -> tuple[int, str] | None:
    """The chain's newest (seq, hash) if its events after `since` link and carry good MACs."""
    seq, prev = since or (0, audit.GENESIS)
    events = AuditEvent.objects.filter(chain=chain, seq__gt=seq).order_by("seq").iterator(chunk_size=2000)
    if since and seq and not AuditEvent.objects.filter(chain=chain, seq=seq, hash=prev).exists():
        return None
    for event in events:
        if (event.seq != seq + 1 or event.prev_hash != prev
                or audit.compute_hash(event, audit.key_for(chain, event.seq, key, legacy)) != event.hash):
            return None
        seq, prev = event.seq, event.hash
    return seq, prev


def write(path: str | Path | None = None) -> dict[str, tuple[int, str]]:
    """Append one signed checkpoint of every chain head that verifies; returns what was signed.
    A chain that fails is left at its previous checkpoint and logged (run `jiedao audit verify`)."""
    key, legacy = audit.audit_key(fresh=True)
    target = Path(path) if path else default_path()
    previous = _last(target, key)
    heads: dict[str, tuple[int, str]] = {}
    for head in AuditChainHead.objects.order_by("chain"):
        since = previous.get(head.chain)
        checked = _verified_head(head.chain, since[:2] if since else None, key, legacy)
        if checked is None or checked[0] != head.last_seq or (head.last_seq and checked[1] != head.last_hash):
            log.error("audit chain %s does not verify; its checkpoint is not advanced (run `jiedao audit verify`)",
                      head.chain)
            if since:
                heads[head.chain] = since[:2]
            continue
        heads[head.chain] = checked
    if previous and heads == {chain: mark[:2] for chain, mark in previous.items()}:
        return heads  # nothing new since the last checkpoint
    body = {"at": audit._timestamp(timezone.now()), "heads": {k: list(v) for k, v in heads.items()}}
    line = json.dumps({**body, "mac": sign(body, key)}, ensure_ascii=False, sort_keys=True) + "\n"
    _append(target, line)
    sink = getattr(settings, "JIEDAO_AUDIT_CHECKPOINT_SINK", "")
    if sink == "syslog":
        import syslog

        syslog.openlog("jiedao-audit", 0, syslog.LOG_AUTH)
        syslog.syslog(syslog.LOG_NOTICE, line.strip())
    elif sink:
        _append(Path(sink), line)
    return heads


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def checkpoint_job() -> None:
    """The periodic job: one signed checkpoint of every chain head."""
    write()
