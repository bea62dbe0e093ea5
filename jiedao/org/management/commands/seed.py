"""`jiedao seed`: migrate, then fill the (org-empty) database with generated demo data.

org builds the tree, departments and accounts; the other apps' data comes from the steps they
registered in jiedao.core.seeding."""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand, CommandError

PUBLIC_SCALES = ("subdistrict", "district", "city")
HIDDEN_SCALES = ("tiny",)  # a handful of nodes, for tests
DEFAULT_SEED = 2026


def scale_name(value: str) -> str:
    if value not in PUBLIC_SCALES + HIDDEN_SCALES:
        raise argparse.ArgumentTypeError(
            f"无效的规模 {value!r}，可选 subdistrict、district、city / invalid scale, choose subdistrict, district or city"
        )
    return value


def migrate(stdout) -> None:
    from django.core.management import call_command

    stdout.write("正在迁移数据库 / migrating the database…")
    call_command("migrate", interactive=False, verbosity=0)


def summarize(report) -> str:
    """'1 个街道、9 个社区、… ；11 个部门；212 个账号（用时 2.5 秒）' plus the English figures."""
    from jiedao.org.models import NodeKind

    kinds = [kind for kind in NodeKind.values if report.nodes.get(kind)]
    chinese = "、".join(f"{report.nodes[kind]} 个{NodeKind(kind).label}" for kind in kinds)
    english = ", ".join(f"{report.nodes[kind]} {kind}" for kind in kinds)
    return (
        f"{chinese}；{report.departments} 个部门；{report.users} 个账号（用时 {report.seconds:.1f} 秒）\n"
        f"{english}; {report.departments} departments; {report.users} accounts in {report.seconds:.1f} s"
    )


def seed_content(subdistrict, seed: int) -> str:
    """The other apps' demo data for the single-sub-district demo (registers, a few months of
    cases…): the steps they registered in jiedao.core.seeding, in layer order."""
    from jiedao.core import seeding

    return "；".join(step(subdistrict, seed=seed) for step in seeding.demo_steps())


class Command(BaseCommand):
    help = (
        "迁移数据库并生成演示数据（组织架构、部门、各角色账号）/ migrate and fill the database with generated demo"
        " data (org tree, departments, an account for every role)"
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale", type=scale_name, default="subdistrict", metavar="{subdistrict,district,city}",
            help="规模：subdistrict 一个街道（丹西街道：9 社区 21 村、88 网格、612 微网格）；district 一个县"
                 "（20 个街道）；city 一个市（16 个区、343 个街道，约 21 万微网格，用于性能测试）"
                 " / subdistrict: one sub-district (default); district: 20 sub-districts; city: 343 sub-districts"
                 " in 16 districts (about 210,000 micro-grids, for benchmarks)",
        )
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                            help=f"随机种子，相同种子生成相同数据 / random seed: same seed, same data (default {DEFAULT_SEED})")
        parser.add_argument(
            "--cases", type=int, default=None, metavar="N",
            help="district/city 规模载入的历史事项数（默认 district 约 140 万、city 约 2400 万，0 为不载入）"
                 " / cases of bulk history for the district and city scales (default about 1.4 million for"
                 " district, 24 million for city; 0 for none)",
        )
        parser.add_argument(
            "--force", action="store_true",
            help="数据库已有组织节点时，先删除全部数据（账号、审计日志等全部内容）再生成；请先停止服务"
                 " / if the database already holds org nodes, DELETE ALL DATA first (accounts and audit log"
                 " included); stop the server first",
        )

    def handle(self, *args, scale: str = "subdistrict", seed: int = DEFAULT_SEED, force: bool = False,
               cases: int | None = None, **options):
        from jiedao.core.backup import database_settings, describe, wipe_database
        from jiedao.org import demo
        from jiedao.org.models import OrgNode

        migrate(self.stdout)
        existing = OrgNode.objects.count()
        if existing:
            if not force:
                raise CommandError(
                    f"数据库 {describe(database_settings())} 中已有 {existing} 个组织节点，演示数据不会混入现有数据。"
                    f"要删除全部数据并重新生成，请加 --force。\n"
                    f"The database already holds {existing} org nodes; demo data is never mixed into existing data."
                    f" Add --force to delete everything and seed again.",
                    returncode=2,
                )
            self.stdout.write("正在删除现有数据 / deleting the existing data…")
            wipe_database()
            migrate(self.stdout)
        label = demo.SCALES[scale].label
        self.stdout.write(f"正在生成演示数据：{label}，种子 {seed} / seeding scale={scale} seed={seed}…")
        try:
            report = demo.seed(scale, seed=seed, progress=self.stdout.write if scale in {"district", "city"} else None)
        except demo.DemoError as exc:
            raise CommandError(str(exc), returncode=2) from None
        self.stdout.write("完成 / done: " + summarize(report))
        if scale == "subdistrict":
            self.stdout.write(seed_content(report.root, seed))
        else:
            from jiedao.core import seeding

            # The bulk history of the district and city scales (cases'), and whatever apps add.
            for step in seeding.scale_steps():
                line = step(scale=scale, seed=seed, progress=self.stdout.write, cases=cases)
                if line:
                    self.stdout.write(line)
        self.stdout.write(f"演示账号的密码均为 {demo.DEMO_PASSWORD} / every demo account's password is {demo.DEMO_PASSWORD}")
