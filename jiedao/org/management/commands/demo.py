"""`jiedao demo`: migrate, seed the demo sub-district if the database is empty, print the accounts, serve."""

from __future__ import annotations

import unicodedata

from django.core.management.base import BaseCommand

from jiedao.core.management.commands.serve import add_server_arguments, check_database, display_address, run_gunicorn
from jiedao.org.management.commands.seed import migrate, seed_content, summarize


def display_width(text: str) -> int:
    """Columns a terminal gives `text`: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def account_table(accounts) -> list[str]:
    headers = ("用户名", "姓名", "角色", "所在节点", "可以看到 / what they see")
    rows = [(a.username, a.full_name, a.role, a.node, a.sees) for a in accounts]
    widths = [max(display_width(row[i]) for row in [headers, *rows]) for i in range(len(headers) - 1)]
    lines = []
    for row in [headers, *rows]:
        lines.append("  " + "  ".join(pad(cell, widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1])
    return lines


class Command(BaseCommand):
    help = "迁移数据库、按需生成演示数据并启动服务 / migrate, seed the demo if empty, serve"
    requires_system_checks = []

    def add_arguments(self, parser):
        add_server_arguments(parser, workers=False)

    def handle(self, *args, host: str, port: int, **options):
        from jiedao.org import demo
        from jiedao.org.models import OrgNode

        migrate(self.stdout)
        if OrgNode.objects.exists():
            self.stdout.write("数据库中已有组织数据，不再生成演示数据 / org data present: not seeding")
        else:
            self.stdout.write("正在生成演示街道（丹西街道）/ seeding the demo sub-district (丹西街道)…")
            report = demo.seed("subdistrict")
            self.stdout.write("完成 / done: " + summarize(report))
            self.stdout.write(seed_content(report.root, report.seed))
        check_database(self.stdout, self.stderr)
        accounts = demo.demo_accounts()
        rule = "=" * 72
        lines = [
            "",
            rule,
            "街道 Jiedao 网格化基层治理平台 · 演示环境 / demo",
            f"  地址 / address:  {display_address(host, port)}",
        ]
        if host in {"0.0.0.0", "::"}:
            lines.append("  （监听所有网卡；用其他地址访问时请把它加入 JIEDAO_ALLOWED_HOSTS / add other host names"
                         " to JIEDAO_ALLOWED_HOSTS）")
        if accounts:
            lines += [
                f"  演示账号（密码均为 {demo.DEMO_PASSWORD}）/ demo accounts (password for all: {demo.DEMO_PASSWORD})",
                "",
                *account_table(accounts),
                "",
            ]
            lines.append("  管理员账号登录需两步验证：动态码可在手机身份验证器 App 中查看，演示环境也可运行"
                         " `jiedao twofactor code admin` 取得 / administrators sign in with a second factor:"
                         " in the demo, `jiedao twofactor code admin` prints the current code")
            series = demo.account_series()
            if series:
                lines.append("  全部演示账号：" + "，".join(f"{numbers} {zh}" for numbers, zh, _ in series))
                lines.append("  all demo accounts: " + ", ".join(f"{numbers} {en}" for numbers, _, en in series))
        else:
            lines.append("  （未找到演示账号，请使用现有账号登录 / no demo accounts found: log in with your own）")
        lines += ["  按 Ctrl+C 停止 / press Ctrl+C to stop", rule, ""]
        self.stdout.write("\n".join(lines))
        run_gunicorn(host, port)
