"""`jiedao backup`: a consistent copy of the configured database (see jiedao.core.backup)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "备份数据库：SQLite 在线一致性复制，PostgreSQL 用 pg_dump / back up the database:"
        " an online consistent SQLite copy, or pg_dump --format=custom on PostgreSQL"
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--output", "-o", default=None, metavar="PATH",
            help="备份文件或目录，默认为数据目录下的 backups/jiedao-时间.sqlite3（或 .dump）"
                 " / file or directory to write (default: $JIEDAO_DATA_DIR/backups/jiedao-<time>.sqlite3 or .dump)",
        )

    def handle(self, *args, output: str | None = None, **options):
        from jiedao.core.backup import BackupError, backup

        try:
            path = backup(output)
        except BackupError as exc:
            raise CommandError(exc.message, returncode=exc.returncode) from None
        size = path.stat().st_size
        self.stdout.write(f"已备份 / backup written ({size / 1024 / 1024:.1f} MB):")
        self.stdout.write(str(path))
