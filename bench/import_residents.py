"""Benchmark: importing a resident register from xlsx.

Prints, in the same run, on the same file and the same model, wall and CPU seconds, rows/second
and peak memory (VmHWM of a fresh process) for:

  floor    a raw read of the file with python-calamine, the reader the import uses (no checks, no writes)
  crypto   the cryptography every row needs, alone, with the batch helpers the import uses:
           2x SM4-GCM, 2x HMAC-SM3 (blind indexes) and 1x HMAC-SM3 (the audit link) a row, on the
           file's own values
  jiedao   our pipeline: validate (preview) + commit, with checks, SM4 encryption, blind
           indexes, households, tags and a hash-chained audit row per resident
  again    the same file imported a second time into the now full register (every row an update)
  die      django-import-export 4 importing the same file into the same model, doing the same
           encryption and blind indexing in its hooks (installed for the benchmark only:
           pip install -e '.[bench]'); skipped when it is not installed

Usage:  .venv/bin/python bench/import_residents.py [--rows 100000] [--sizes 10000]
                                                    [--die-rows 10000] [--database-url URL]
Each measurement runs in its own process on a fresh database, so memory figures are not mixed.
CPU seconds are the child's own (user + system): on a shared machine they are the fairer figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _setup(data_dir: str, database_url: str | None) -> None:
    os.environ["JIEDAO_DATA_DIR"] = data_dir
    if database_url:
        os.environ["JIEDAO_DATABASE_URL"] = database_url
    else:
        os.environ.pop("JIEDAO_DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jiedao.settings")
    import django

    django.setup()


def _fresh_database() -> None:
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)


def _world():
    """A sub-district with 2 communities x 4 grids x 5 buildings; returns (actor, building paths)."""
    from jiedao.core.permissions import Role
    from jiedao.org import services
    from jiedao.org.models import NodeKind, User

    root = User.objects.create_superuser("bench-root", password="x")
    sub = services.node_create(actor=root, parent=None, kind=NodeKind.SUBDISTRICT, name="丹西街道", code="330225002000")
    paths = []
    for c in range(1, 3):
        community = services.node_create(actor=root, parent=sub, kind=NodeKind.COMMUNITY, name=f"社区{c}",
                                         code=f"330225002{c:03d}")
        for g in range(1, 5):
            grid = services.node_create(actor=root, parent=community, kind=NodeKind.GRID, name=f"第{g}网格",
                                        code=f"330225002{c:03d}{g:03d}")
            for b in range(1, 6):
                services.node_create(actor=root, parent=grid, kind=NodeKind.BUILDING, name=f"{b}幢")
                paths.append(f"社区{c}/第{g}网格/{b}幢")
    actor = services.user_create(actor=root, username="bench", full_name="导入员", home_node=sub, password="Bench-2026-pw")
    services.role_assign(actor=root, user=actor, role=Role.ADMIN, node=sub)
    return actor, paths


HEADERS = ["姓名", "身份证号", "联系电话", "所在网格/楼栋", "户号", "与户主关系", "现住地址", "流动人口", "特殊人群"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "建国秀英志强丽华文明海燕春梅立新桂芳永红晓东玉兰德明"


def make_file(path: Path, rows: int, paths: list[str]) -> None:
    from openpyxl import Workbook

    from jiedao.core.validators import id_number_check_char

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("居民")
    sheet.append(HEADERS)
    for n in range(rows):
        # Each thousand rows share a birth date and differ in the sequence digits: distinct, valid IDs.
        d = n // 1000
        first = f"330225{1940 + d % 70}{1 + (d // 70) % 12:02d}{1 + (d // 840) % 28:02d}{n % 1000:03d}"
        ident = first + id_number_check_char(first)
        name = SURNAMES[n % 20] + GIVEN[(n * 7) % 24] + GIVEN[(n * 13) % 24]
        sheet.append([
            name, ident, f"13{n % 10}{n:08d}"[:11], paths[n % len(paths)], f"H{n // 3:06d}",
            "户主" if n % 3 == 0 else "家庭成员", f"{paths[n % len(paths)]} {n % 6 + 1}单元", "否",
            "独居老人" if n % 50 == 0 else "",
        ])
    workbook.save(path)


def peak_mb() -> float:
    """Peak resident memory of this process (VmHWM: unlike ru_maxrss it is not inherited over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the three contenders, each run in a child process ------------------------------------------


def run_floor(file: str) -> dict:
    import python_calamine

    start, cpu = time.perf_counter(), time.process_time()
    workbook = python_calamine.CalamineWorkbook.from_path(file)
    count = sum(1 for _ in workbook.get_sheet_by_index(0).iter_rows()) - 1
    workbook.close()
    return {"rows": count, "seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu}


def run_crypto(file: str) -> dict:
    """The cryptography alone, done the fastest way the code knows (the batch helpers the import
    uses): per row 2x SM4-GCM bound to a row, 2x HMAC-SM3 blind indexes, 1x HMAC-SM3 audit link."""
    import python_calamine
    from cryptography.hazmat.primitives import hashes, hmac

    from jiedao.core import crypto

    workbook = python_calamine.CalamineWorkbook.from_path(file)
    rows = workbook.get_sheet_by_index(0).to_python()[1:]
    workbook.close()
    ring = crypto.get_keyring()
    key = os.urandom(32)  # an audit key's size (this child has no database to keep the real one)
    start, cpu = time.perf_counter(), time.process_time()
    id_index = crypto.blind_indexer("id_number", keyring=ring)
    phone_index = crypto.blind_indexer("phone", keyring=ring)
    keyed = hmac.HMAC(key, hashes.SM3())
    for first in range(0, len(rows), 1000):
        batch = rows[first:first + 1000]
        items = []
        for n, row in enumerate(batch, start=first):
            items.append((str(row[1]), b"jiedao\x00people_resident\x00id_number_enc\x00" + str(n).encode()))
            items.append((str(row[2]), b"jiedao\x00people_resident\x00phone_enc\x00" + str(n).encode()))
        crypto.encrypt_many(items, ring)
        for row in batch:
            ident, phone = str(row[1]), str(row[2])
            id_index(ident)
            phone_index(phone)
            mac = keyed.copy()
            mac.update(ident.encode() + phone.encode())
            mac.finalize()
    return {"rows": len(rows), "seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu}


def _import_once(actor, file: str) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from jiedao.core import imports

    start, cpu = time.perf_counter(), time.process_time()
    with open(file, "rb") as handle:
        job = imports.import_upload(actor=actor, register_key="residents", mode="all_or_nothing",
                                    uploaded=SimpleUploadedFile("residents.xlsx", handle.read()))
    job = imports.import_validate(job)
    validated, validated_cpu = time.perf_counter(), time.process_time()
    if job.bad_rows:
        sys.exit(f"generated file has bad rows: {imports.read_errors(job, limit=5)}")
    job = imports.import_commit(actor=actor, job=job)
    end, end_cpu = time.perf_counter(), time.process_time()
    assert job.status == "committed", job.message
    return {"seconds": end - start, "cpu": end_cpu - cpu, "validate_seconds": validated - start,
            "validate_cpu": validated_cpu - cpu, "commit_seconds": end - validated,
            "commit_cpu": end_cpu - validated_cpu, "created": job.created_rows, "updated": job.updated_rows}


def run_jiedao(file: str) -> dict:
    """A first import into an empty register, then the same file again (every row an update)."""
    from jiedao.core import audit
    from jiedao.org.models import User
    from jiedao.people import importers  # noqa: F401
    from jiedao.people.models import Resident

    actor = User.objects.get(username="bench")
    first = _import_once(actor, file)
    first["rows"] = Resident.objects.count()
    first["peak_first_mb"] = peak_mb()
    again = _import_once(actor, file)
    assert again["updated"] == first["rows"] and Resident.objects.count() == first["rows"], again
    first["again"] = again
    result = audit.verify_chain()
    first["audit_ok"] = result.ok
    return first


def run_die(file: str) -> dict:
    import tablib
    from import_export import fields, resources, widgets

    from jiedao.core import crypto
    from jiedao.org.models import OrgNode
    from jiedao.people.models import Resident

    full = {}
    for node in OrgNode.objects.filter(kind="building").select_related("parent__parent"):
        full[f"{node.parent.parent.name}/{node.parent.name}/{node.name}"] = node

    class NodeWidget(widgets.Widget):
        def clean(self, value, row=None, **kwargs):
            return full[value]

    class ResidentResource(resources.ModelResource):
        name = fields.Field(attribute="name", column_name="姓名")
        node = fields.Field(attribute="node", column_name="所在网格/楼栋", widget=NodeWidget())
        relation = fields.Field(attribute="relation", column_name="与户主关系")
        actual_address = fields.Field(attribute="actual_address", column_name="现住地址")
        id_number_bidx = fields.Field(attribute="id_number_bidx", column_name="id_number_bidx")

        class Meta:
            model = Resident
            import_id_fields = ("id_number_bidx",)
            fields = ("name", "node", "relation", "actual_address", "id_number_bidx")
            use_transactions = True
            skip_diff = True

        def before_save_instance(self, instance, row, **kwargs):
            ident, phone = str(row["身份证号"]), str(row["联系电话"])
            instance.id_number_enc = crypto.encrypt(ident)
            instance.id_number_masked = crypto.mask(ident, "id_number")
            instance.phone_enc = crypto.encrypt(phone)
            instance.phone_bidx = crypto.blind_index(phone, kind="phone")
            instance.phone_masked = crypto.mask(phone, "phone")
            instance.subdistrict_id = instance.node.subdistrict_id

    start, cpu = time.perf_counter(), time.process_time()
    with open(file, "rb") as handle:
        dataset = tablib.Dataset().load(handle, format="xlsx")
    # The natural key column, computed the same way our importer does.
    dataset.append_col(lambda row: crypto.blind_index(str(row[1]), kind="id_number"), header="id_number_bidx")
    result = ResidentResource().import_data(dataset, dry_run=False, raise_errors=True)
    end = time.perf_counter()
    return {"rows": Resident.objects.count(), "seconds": end - start, "cpu": time.process_time() - cpu,
            "errors": result.has_errors()}


def child(args: argparse.Namespace) -> None:
    data_dir = tempfile.mkdtemp(prefix="jiedao-bench-")
    _setup(data_dir, args.database_url)
    if args.child not in ("floor", "crypto"):
        _fresh_database()
        _world()
    figures = {"floor": run_floor, "crypto": run_crypto, "jiedao": run_jiedao, "die": run_die}[args.child](args.file)
    figures["peak_mb"] = peak_mb()
    print(json.dumps(figures))


def measure(kind: str, file: Path, database_url: str | None) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--file", str(file)]
    if database_url:
        command += ["--database-url", database_url]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--sizes", default="10000", help="extra sizes for the memory curve")
    parser.add_argument("--die-rows", type=int, default=10_000,
                        help="rows for django-import-export (it is slow; its rate is per row); 0 skips it")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--child", default=None)
    parser.add_argument("--file", default=None)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    try:
        import import_export  # noqa: F401
    except ImportError:
        print("# django-import-export is not installed (pip install -e '.[bench]'): its row is skipped")
        args.die_rows = 0
    work = Path(tempfile.mkdtemp(prefix="jiedao-bench-files-"))
    _setup(str(work / "gen"), None)
    _fresh_database()
    _, paths = _world()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s} | {args.rows} | ({args.die_rows} - {0}))
    files = {}
    for size in sizes:
        files[size] = work / f"residents-{size}.xlsx"
        make_file(files[size], size, paths)
    db = args.database_url or "sqlite (WAL)"
    print(f"# resident import benchmark — database: {db}; python {sys.version.split()[0]}; {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'rows':>8} {'contender':<9} {'wall s':>7} {'CPU s':>7} {'rows/s':>8} {'peak MB':>8}  notes")

    def line(size: int, kind: str, fig: dict, note: str = "", peak: float | None = None) -> None:
        peak = fig.get("peak_mb") if peak is None else peak
        print(f"{size:>8} {kind:<9} {fig['seconds']:>7.2f} {fig['cpu']:>7.2f} {size / fig['seconds']:>8.0f} "
              f"{peak:>8.0f}  {note}")

    results = {}
    for size in sizes:
        kinds = ("floor", "crypto", "jiedao") + (("die",) if size == args.die_rows else ())
        for kind in kinds:
            fig = measure(kind, files[size], args.database_url)
            results[(size, kind)] = fig
            if kind == "jiedao":
                line(size, "jiedao", fig, f"validate {fig['validate_seconds']:.2f}s ({fig['validate_cpu']:.2f} CPU) + "
                     f"commit {fig['commit_seconds']:.2f}s ({fig['commit_cpu']:.2f} CPU); "
                     f"audit chain {'verifies' if fig['audit_ok'] else 'BROKEN'}", peak=fig["peak_first_mb"])
                again = fig["again"]
                line(size, "again", again, f"re-import, {again['updated']} updates: validate {again['validate_seconds']:.2f}s"
                     f" + commit {again['commit_seconds']:.2f}s", peak=fig["peak_mb"])
            else:
                line(size, kind, fig)
    floor, crypto_, big = results[(args.rows, "floor")], results[(args.rows, "crypto")], results[(args.rows, "jiedao")]
    both = floor["cpu"] + crypto_["cpu"]
    print(f"at {args.rows} rows: floor (calamine read + crypto) {both:.2f} CPU s; jiedao {big['cpu']:.2f} CPU s = "
          f"{big['cpu'] / both:.1f}x the floor; re-import {big['again']['cpu']:.2f} CPU s "
          f"({big['again']['cpu'] / big['cpu']:.2f}x the first import)")
    if args.die_rows:
        ours, theirs = results[(args.die_rows, "jiedao")], results[(args.die_rows, "die")]
        print(f"speed-up over django-import-export at {args.die_rows} rows: {theirs['cpu'] / ours['cpu']:.1f}x (CPU), "
              f"{theirs['seconds'] / ours['seconds']:.1f}x (wall)")
    small = results[(sizes[0], "jiedao")]
    print(f"jiedao peak memory {small['peak_first_mb']:.0f} MB at {sizes[0]} rows -> {big['peak_first_mb']:.0f} MB "
          f"at {args.rows} rows (first import)")


if __name__ == "__main__":
    main()
