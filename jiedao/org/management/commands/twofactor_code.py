"""`jiedao twofactor code USERNAME`: the current sign-in code of a DEMO account's second factor,
so the demo can be tried without an authenticator app. Refused for every other account."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "显示演示账号当前的动态码（仅演示账号）/ the current code of a demo account (demo accounts only)"

    def add_arguments(self, parser):
        parser.add_argument("username", help="演示账号的用户名 / a demo account's username")

    def handle(self, *args, username: str, **options):
        from jiedao.core.errors import DomainError
        from jiedao.org import services

        try:
            self.stdout.write(services.second_factor_demo_code(username=username))
        except DomainError as exc:
            raise CommandError(exc.message, returncode=2) from None
