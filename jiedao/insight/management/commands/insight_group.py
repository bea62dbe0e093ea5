"""`jiedao insight group`: the nightly duplicate grouping, run by hand."""

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = ("把各街道的未结事项归为疑似重复组，供工作人员确认或排除 / group each sub-district's open cases into "
            "likely-duplicate groups for staff to confirm or dismiss")

    def add_arguments(self, parser):
        parser.add_argument("--subdistrict", metavar="代码",
                            help="只处理这个街道（区划代码）/ only this sub-district (its division code)")

    def handle(self, *args, subdistrict: str | None = None, **options):
        from jiedao.insight import services
        from jiedao.org.models import NodeKind, OrgNode

        if subdistrict:
            node = OrgNode.objects.filter(kind=NodeKind.SUBDISTRICT, code=subdistrict.strip()).first()
            if node is None:
                raise CommandError(f"没有代码为 {subdistrict} 的街道 / no sub-district with this code", returncode=2)
            counts = {"subdistricts": 1, **services.duplicate_groups_build(subdistrict=node)}
        else:
            counts = services.duplicate_groups_build_all()
        self.stdout.write(
            "街道 {subdistricts} 个：新提出 {proposed} 组，更新 {updated} 组，未变 {unchanged} 组，失效 {stale} 组 / "
            "subdistricts={subdistricts} proposed={proposed} updated={updated} unchanged={unchanged} stale={stale}"
            .format(**counts)
        )
