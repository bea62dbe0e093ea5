"""`jiedao twofactor reset USERNAME --reason …`: take away a user's second factor (a lost phone);
the user sets a new one at the next sign-in (administrators must). Audited."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "重置用户的两步验证（手机丢失时）/ reset a user's second sign-in factor (a lost phone)"

    def add_arguments(self, parser):
        parser.add_argument("username", help="用户名 / username")
        parser.add_argument("--reason", required=True, help="事由（记入审计日志）/ reason, kept in the audit log")

    def handle(self, *args, username: str, reason: str, **options):
        from jiedao.core.errors import DomainError
        from jiedao.org import services
        from jiedao.org.models import User

        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"没有用户 {username} / no such user", returncode=2)
        try:
            services.second_factor_remove(actor=None, user=user, reason=reason)
        except DomainError as exc:
            raise CommandError(exc.message, returncode=2) from None
        self.stdout.write(f"已重置 {username} 的两步验证；下次登录时重新设置 / reset; set up again at the next sign-in")
