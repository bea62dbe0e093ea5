"""The `jiedao` command: a thin bilingual front for the platform's management commands.

    jiedao demo | serve | seed | createadmin | audit verify | backup | restore | keys rotate|reindex | scheduler
           | worker | manage …

Each subcommand is a Django management command (jiedao/*/management/commands); this module
only builds the argument parser from those commands' own `help` and `add_arguments`, loads the
settings, and turns errors into clear messages and exit codes:

    0 success · 1 failure (e.g. a broken audit chain, pg_dump failed) · 2 refused or bad input
    (bad environment variable, bad option, non-empty target database) · 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Sequence

SETTINGS_MODULE = "jiedao.settings"

# subcommand path → management command (module under jiedao/<app>/management/commands/).
COMMANDS: dict[tuple[str, ...], tuple[str, str]] = {
    ("demo",): ("org", "demo"),
    ("serve",): ("core", "serve"),
    ("seed",): ("org", "seed"),
    ("createadmin",): ("org", "createadmin"),
    ("audit", "verify"): ("core", "audit_verify"),
    ("audit", "checkpoint"): ("core", "audit_checkpoint"),
    ("audit", "rotate-key"): ("core", "audit_rotate_key"),
    ("backup",): ("core", "backup"),
    ("restore",): ("core", "restore"),
    ("keys", "rotate"): ("core", "keys_rotate"),
    ("keys", "reindex"): ("core", "keys_reindex"),
    ("twofactor", "reset"): ("org", "twofactor_reset"),
    ("twofactor", "code"): ("org", "twofactor_code"),
    ("scheduler",): ("core", "scheduler"),
    ("worker",): ("core", "worker"),
}
GROUP_HELP = {
    "audit": "审计日志 / audit log",
    "keys": "加密密钥 / encryption keys",
    "twofactor": "两步验证 / second sign-in factor",
}
MANAGE_HELP = (
    "执行任意 Django 管理命令，如 jiedao manage migrate、jiedao manage changepassword 用户名"
    " / run any Django management command, e.g. `jiedao manage migrate`"
)
DESCRIPTION = "街道 Jiedao 网格化基层治理平台命令行 / command line of the Jiedao grid-governance platform"
EPILOG = """\
环境变量 / environment:
  JIEDAO_DATA_DIR       数据目录（SQLite 文件、密钥、备份）/ data directory (default ./var)
  JIEDAO_DATABASE_URL   数据库地址 / database, e.g. postgres://user@host:5432/jiedao (default SQLite)
  详见 / see docs/operator-guide.md

示例 / examples:
  jiedao demo                      # 迁移、生成演示数据并启动 / migrate, seed and serve on :8000
  jiedao backup                    # 备份到 $JIEDAO_DATA_DIR/backups/
  jiedao audit verify              # 检查审计链 / check the audit chain
"""


class BilingualFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps our line breaks and says "usage" in both languages."""

    def add_usage(self, usage, actions, groups, prefix=None):
        # argparse passes prefix="" when it builds a subcommand's prog from the parent's usage.
        return super().add_usage(usage, actions, groups, "用法 / usage: " if prefix is None else prefix)


class BilingualParser(argparse.ArgumentParser):
    """An ArgumentParser whose own words (options, help, errors) are Chinese and English."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", BilingualFormatter)
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self._positionals.title = "参数 / arguments"
        self._optionals.title = "选项 / options"
        self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                          help="显示帮助并退出 / show this help and exit")

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, f"错误 / error: {message}\n")


def two_lines(text: str) -> str:
    """'中文 / English' → the Chinese line above the English one."""
    return re.sub(r"\s*/\s+", "\n", text, count=1)


def command_class(app: str, name: str) -> type:
    """The management command's class; its module imports no project code at load time."""
    return importlib.import_module(f"jiedao.{app}.management.commands.{name}").Command


def build_parser() -> BilingualParser:
    parser = BilingualParser(prog="jiedao", description=DESCRIPTION, epilog=EPILOG)
    commands = parser.add_subparsers(title="命令 / commands", metavar="<命令 command>", dest="command",
                                     parser_class=BilingualParser)
    commands.required = True
    groups: dict[str, argparse._SubParsersAction] = {}
    for path, (app, name) in COMMANDS.items():
        command = command_class(app, name)
        target = commands
        if len(path) == 2:
            group = path[0]
            if group not in groups:
                group_parser = commands.add_parser(group, help=GROUP_HELP[group], description=GROUP_HELP[group])
                groups[group] = group_parser.add_subparsers(title="命令 / commands", metavar="<命令 command>",
                                                            dest="subcommand", parser_class=BilingualParser)
                groups[group].required = True
            target = groups[group]
        sub = target.add_parser(path[-1], help=command.help, description=two_lines(command.help))
        command().add_arguments(sub)
        sub.set_defaults(management_command=(app, name))
    manage = commands.add_parser("manage", help=MANAGE_HELP, description=two_lines(MANAGE_HELP))
    manage.add_argument("args", nargs=argparse.REMAINDER, metavar="…",
                        help="命令及其参数，jiedao manage help 列出全部 / the command and its arguments;"
                             " `jiedao manage help` lists them all")
    manage.set_defaults(management_command=None)
    return parser


def load_django() -> int | None:
    """Load the settings and apps; on a configuration error print just its message and return 2."""
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:  # jiedao.env.EnvError: the message names the variable
        print(exc, file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. a data directory that cannot be created
        print(f"无法准备数据目录 / cannot prepare the data directory: {exc}", file=sys.stderr)
        return 2
    return None


def run_command(app: str, name: str, argv: list[str]) -> int:
    """Run one management command on its own arguments (already validated by our parser)."""
    from django.core.management.base import CommandError
    from django.db import DatabaseError

    command = command_class(app, name)()
    options = vars(command.create_parser("jiedao", name).parse_args(argv))
    args = options.pop("args", ())
    try:
        command.execute(*args, **options)
    except CommandError as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return exc.returncode
    except DatabaseError as exc:
        print(f"数据库错误 / database error: {exc}", file=sys.stderr)
        print(migration_hint(), file=sys.stderr, end="")
        return 1
    return 0


def migration_hint() -> str:
    """After a database error: say so if the schema is simply not migrated yet."""
    from jiedao.core.management.commands.serve import pending_migrations

    try:
        pending = pending_migrations()
    except Exception:  # the database may be unreachable altogether
        return ""
    if not pending:
        return ""
    return (
        f"数据库还有 {pending} 个迁移未执行，请先运行 jiedao manage migrate（或 jiedao seed / jiedao demo）。\n"
        f"hint: {pending} migrations are not applied; run `jiedao manage migrate` first.\n"
    )


INSIGHT_HELP = (
    "jiedao insight evaluate --train TRAIN.csv --test TEST.csv [--tree TREE.csv]\n"
    "    训练分类器并在测试集上输出准确率和宏平均 F1 / train a classifier, print accuracy and macro-F1\n"
    "jiedao insight similar IN.csv OUT.csv\n"
    "    找出反映同一问题的留言对（id_a,id_b,score）/ write the pairs that report the same problem\n"
    "jiedao insight group [--subdistrict 代码]\n"
    "    把各街道未结事项归为疑似重复组，供工作人员确认 / group open cases into likely duplicates for staff\n"
    "jiedao insight retrain [--import FILE] [--map 原类别=类别代码 ...]\n"
    "    用平台已受理事项重新训练类别建议模型 / retrain the platform's category classifier\n"
    "jiedao insight report\n"
    "    当前模型在留出集上的得分与人工改判率 / scores of the active classifier and override rates"
)
# `jiedao insight group|retrain|report` work on the platform's database (Django management commands).
INSIGHT_DJANGO = {"group": ("insight", "insight_group"), "retrain": ("insight", "insight_retrain"),
                  "report": ("insight", "insight_report")}


def run_insight(argv: list[str]) -> int:
    """`jiedao insight …`: the text tools run without a database or Django."""
    from jiedao.insight.text import cli as insight

    if argv[:1] == ["evaluate"]:
        return insight.main_evaluate(argv[1:])
    if argv[:1] == ["similar"]:
        return insight.main_similar(argv[1:])
    if argv[:1] and argv[0] in INSIGHT_DJANGO:
        app, name = INSIGHT_DJANGO[argv[0]]
        failed = load_django()
        if failed is not None:
            return failed
        command = command_class(app, name)
        parser = BilingualParser(prog=f"jiedao insight {argv[0]}", description=two_lines(command.help))
        command().add_arguments(parser)
        parser.parse_args(argv[1:])  # --help and bad options answered here, in both languages
        return run_command(app, name, argv[1:])
    print("用法 / usage:\n" + INSIGHT_HELP, file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
    return 0 if argv[:1] in (["-h"], ["--help"]) else 2


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["insight"]:
        return run_insight(argv[1:])
    options = build_parser().parse_args(argv)
    failed = load_django()
    if failed is not None:
        return failed
    try:
        if options.management_command is None:
            from django.core.management import execute_from_command_line

            execute_from_command_line(["jiedao manage", *options.args])
            return 0
        app, name = options.management_command
        path = next(p for p, target in COMMANDS.items() if target == (app, name))
        return run_command(app, name, argv[len(path):])
    except KeyboardInterrupt:
        print("\n已中断 / interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
