"""`jiedao audit verify`: walk the audit hash chain and name the first altered or removed row."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "检查审计日志的哈希链是否完整（退出码 0 完整，1 被篡改）/ verify the audit log's hash chain (exit 0 intact, 1 broken)"
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--chain", default=None,
                            help="只检查这一条链（默认全部）/ check only this chain (default: all chains)")

    def handle(self, *args, chain: str | None = None, **options):
        from jiedao.core.audit import verify_chain

        result = verify_chain(chain)
        self.stdout.write(f"已检查 {result.checked} 条审计事件 / checked {result.checked} audit events")
        if result.ok:
            self.stdout.write("审计链完整 / audit chain intact")
            return
        problem = result.problem
        where = f"id={problem.event_id}, seq={problem.seq}" if problem.event_id else f"seq={problem.seq}"
        raise CommandError(
            f"审计链已损坏 / audit chain BROKEN ({where}, chain {problem.chain}):\n{problem.message}", returncode=1
        )
