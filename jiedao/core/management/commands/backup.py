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
        import json

        from jiedao.core.backup import BackupError, backup, manifest_path

        try:
            path = backup(output)
        except BackupError as exc:
            raise CommandError(exc.message, returncode=exc.returncode) from None
        size = path.stat().st_size
        self.stdout.write(f"已备份 / backup written ({size / 1024 / 1024:.1f} MB):")
        self.stdout.write(str(path))
        manifest = manifest_path(path)
        self.stdout.write(f"密钥清单 / key manifest: {manifest}")
        lost = json.loads(manifest.read_text()).get("unknown_keys")
        if lost:
            self.stderr.write(
                f"警告：数据库中有用当前密钥环里没有的密钥（{', '.join(lost)}）加密的数据，这些数据已无法解密。"
                f"\nwarning: the database holds values encrypted under keys the keyring lacks ({', '.join(lost)})."
            )
        self.stdout.write(
            "请把数据目录中的 keys/keyring.json 与 secret_key 另行妥善保存：没有它们无法恢复加密的个人信息。"
            " / Keep keys/keyring.json and secret_key of the data directory safe, apart from the backups:"
            " without them a restore is refused."
        )
