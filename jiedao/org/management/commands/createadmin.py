"""`jiedao createadmin`: create a superuser (prompting for what the options leave out)."""

from __future__ import annotations

import getpass
import re
import sys

from django.core.management.base import BaseCommand, CommandError

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,150}$")


class Command(BaseCommand):
    help = "创建超级管理员账号（未给出的用户名或密码会提示输入）/ create a superuser (prompts for what is not given)"
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--username", default=None, help="用户名 / username")
        parser.add_argument(
            "--password", default=None,
            help="密码；写在命令行会留在历史记录中，建议省略以交互输入 / password; it stays in the shell history,"
                 " so prefer leaving it out and typing it at the prompt",
        )
        parser.add_argument("--full-name", default="超级管理员", help="姓名 / full name (default 超级管理员)")

    def _prompt(self, label: str) -> str:
        if not sys.stdin.isatty():
            raise CommandError(f"未给出{label}且无法交互输入 / no {label} given and no terminal to ask", returncode=2)
        return input(f"{label}: ").strip()

    def _prompt_password(self) -> str:
        if not sys.stdin.isatty():
            raise CommandError("未给出密码且无法交互输入 / no --password given and no terminal to ask", returncode=2)
        first = getpass.getpass("密码 / password: ")
        if first != getpass.getpass("再次输入密码 / password again: "):
            raise CommandError("两次输入的密码不一致 / the passwords differ", returncode=2)
        return first

    def handle(self, *args, username: str | None = None, password: str | None = None, full_name: str = "", **options):
        from django.contrib.auth.password_validation import validate_password
        from django.core.exceptions import ValidationError
        from django.db import transaction

        from jiedao.core import audit
        from jiedao.org.models import User

        username = (username or self._prompt("用户名 / username")).strip()
        if not USERNAME.match(username):
            raise CommandError("用户名应为 3–150 位字母、数字或 _ . - / username: 3-150 letters, digits, _ . -",
                               returncode=2)
        if User.objects.filter(username=username).exists():
            raise CommandError(
                f"用户 {username} 已存在；修改密码请用 jiedao manage changepassword {username}"
                f" / user {username} exists; use `jiedao manage changepassword {username}`",
                returncode=2,
            )
        password = password if password is not None else self._prompt_password()
        candidate = User(username=username, full_name=full_name)
        try:
            validate_password(password, candidate)
        except ValidationError as exc:
            raise CommandError("密码不符合要求 / weak password: " + "；".join(exc.messages), returncode=2) from None
        with transaction.atomic():
            user = User.objects.create_superuser(username=username, password=password, full_name=full_name)
            audit.record(actor="jiedao createadmin", action="org.user.create_superuser", obj=user,
                         after=audit.snapshot(user))
        self.stdout.write(f"已创建超级管理员 {username} / superuser {username} created")
