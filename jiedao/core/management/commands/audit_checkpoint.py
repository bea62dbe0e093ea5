"""`jiedao audit checkpoint`: append a signed checkpoint of every audit chain head now (the
periodic job `audit_checkpoint` does the same every 10 minutes)."""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "立即写入一个签名的审计链头检查点 / write a signed checkpoint of every audit chain head now"
    requires_system_checks = []

    def handle(self, *args, **options):
        from jiedao.core import audit_checkpoints

        heads = audit_checkpoints.write()
        events = sum(seq for seq, _digest in heads.values())
        self.stdout.write(f"已写入检查点：{len(heads)} 条链，{events} 条事件 / checkpoint written: "
                          f"{len(heads)} chains, {events} events → {audit_checkpoints.default_path()}")
