"""`jiedao audit verify`: walk the keyed audit chains, check them against the signed checkpoints
and the database's append-only triggers, and name every chain that is altered, forged or cut."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("检查审计日志的密钥哈希链、签名检查点和只追加触发器（退出码 0 完整，1 被篡改）"
            " / verify the audit log's keyed hash chains against the signed checkpoints (exit 0 intact, 1 broken)")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--chain", default=None,
                            help="只检查这一条链（默认全部）/ check only this chain (default: all chains)")
        parser.add_argument("--checkpoints", default=None,
                            help="检查点文件（默认 $JIEDAO_DATA_DIR/audit/checkpoints.jsonl，可用外部副本）"
                                 " / checkpoint file (default: the data dir's; pass the external copy to use it)")

    def handle(self, *args, chain: str | None = None, checkpoints: str | None = None, **options):
        from jiedao.core.audit import verify_chain

        result = verify_chain(chain, checkpoints_path=checkpoints)
        self.stdout.write(f"已检查 {result.checked} 条审计事件，{result.checkpoints} 个检查点"
                          f" / checked {result.checked} audit events against {result.checkpoints} checkpoints")
        for note in result.notes:
            self.stdout.write(note)
        if result.ok:
            self.stdout.write("审计链完整 / audit chain intact")
            return
        lines = [f"- [{problem.where}] {problem.message}" for problem in result.problems]
        first = result.problem
        where = f"id={first.event_id}, seq={first.seq}" if first.event_id else f"seq={first.seq}"
        raise CommandError(
            f"审计链已损坏 / audit chain BROKEN ({where}, chain {first.chain}), "
            f"{len(result.problems)} 处问题 / problem(s):\n" + "\n".join(lines), returncode=1
        )
