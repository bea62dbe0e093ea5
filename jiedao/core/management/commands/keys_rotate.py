"""`jiedao keys rotate`: a new data key for every sealed personal-data column (jiedao.core.keys)."""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "轮换个人信息加密密钥并重新加密（不停机）/ rotate the personal-data encryption key and re-encrypt (online)"
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--index", action="store_true",
                            help="同时轮换盲索引密钥 / also rotate the blind-index key")
        parser.add_argument("--batch-size", type=int, default=500,
                            help="每批重新加密的行数 / rows re-encrypted per batch (default 500)")

    def handle(self, *args, index: bool = False, batch_size: int = 500, **options):
        from jiedao.core.keys import rotate_keys  # jiedao.cli reads this module before Django is set up

        report = rotate_keys(batch_size=batch_size, rotate_index=index)
        self.stdout.write(
            f"新密钥 {report.key_id}（盲索引 {report.index_key_id}），已重新加密 {report.reencrypted} 个字段，"
            f"跳过并发修改 {report.skipped_concurrent} 个 / new key {report.key_id}, index key {report.index_key_id},"
            f" re-encrypted {report.reencrypted}, skipped {report.skipped_concurrent} changed concurrently"
        )
        self.stdout.write("请立即备份密钥文件 / back up the keyring file now")
