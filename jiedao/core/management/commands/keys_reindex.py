"""`jiedao keys reindex`: fill the blind indexes that sealed values lack (jiedao.core.keys)."""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("为缺少盲索引的加密字段补建索引（不换密钥，可在线执行）"
            " / fill missing blind indexes of sealed values (no new key, online)")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500,
                            help="每批处理的行数 / rows per batch (default 500)")

    def handle(self, *args, batch_size: int = 500, **options):
        from jiedao.core.keys import fill_missing_indexes  # jiedao.cli reads this module before Django is set up

        report = fill_missing_indexes(batch_size=batch_size)
        for column, count in (report.columns or {}).items():
            self.stdout.write(f"  {column}: {count}")
        self.stdout.write(
            f"已补建盲索引 {report.indexed} 个，跳过并发修改 {report.skipped_concurrent} 个"
            f" / filled {report.indexed} blind indexes, skipped {report.skipped_concurrent} changed concurrently"
        )
