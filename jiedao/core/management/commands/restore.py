"""`jiedao restore`: replace the configured database's contents with a backup."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "从备份恢复到当前配置的数据库（目标已有组织数据时需加 --force）"
        " / restore a backup into the configured database (--force to replace existing data)"
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("path", metavar="PATH",
                            help="jiedao backup 生成的备份文件 / a file written by `jiedao backup`")
        parser.add_argument("--force", action="store_true",
                            help="目标数据库已有数据时仍然用备份替换（请先停止服务）/ replace the target even if it"
                                 " already holds data (stop the server first)")
        parser.add_argument("--skip-key-check", action="store_true",
                            help="不检查当前密钥环能否解开备份中的加密数据 / do not check that the present keyring"
                                 " opens the backup's encrypted data")

    def handle(self, *args, path: str, force: bool = False, skip_key_check: bool = False, **options):
        from jiedao.core.backup import BackupError, restore

        try:
            result = restore(path, force=force, skip_key_check=skip_key_check)
        except BackupError as exc:
            raise CommandError(exc.message, returncode=exc.returncode) from None
        rows = result.rows
        self.stdout.write(f"已恢复 / restored {result.source}")
        self.stdout.write(f"  到 / into {result.target}")
        self.stdout.write(
            f"  组织节点 {rows['org_orgnode']} 个，账号 {rows['org_user']} 个，审计事件 {rows['core_auditevent']} 条"
            f" / {rows['org_orgnode']} org nodes, {rows['org_user']} users, {rows['core_auditevent']} audit events"
        )
        self.stdout.write(
            "下一步：运行 jiedao manage migrate（程序版本较新时）和 jiedao audit verify；"
            "并恢复原数据目录中的 secret_key。\n"
            "next: `jiedao manage migrate` (if this release is newer), `jiedao audit verify`, and bring back"
            " the old data directory's secret_key."
        )
