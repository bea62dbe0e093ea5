"""Speed of category suggestion and of training, on one core.

* suggestions/s: ``model.suggest(text, title=...)`` one message at a time, and ``suggest_many``
  in batches, over real messages (messages_hotspot.csv);
* training time on 10,000 messages resampled from the shared data: the 251 labelled messages
  and the 4,326 hotspot messages (labelled by a model trained on the 251), each copy cut at a
  random point of its body so that the copies differ; plus the category tree;
* the Django side (``--django``): ``jiedao.cases.selectors.suggest_category`` as the intake
  forms call it — the process's cached model of the default catalogue, the check for a new
  active version, the mapping to categories — on a fresh SQLite database in a temporary data
  directory (migrated first, ~20 s), with per-call latency percentiles.

    .venv/bin/python bench/insight_bench.py [--n 10000] [--data DIR] [--django] [--django-only]

Numbers depend on the machine; the targets are >= 2,000 suggestions/s and < 60 s of training.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core

import argparse  # noqa: E402
import contextlib  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jiedao.insight.text import io as tio  # noqa: E402
from jiedao.insight.text.classifier import Example, train  # noqa: E402
from jiedao.insight.text.features import get_tokenizer  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "messages"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--django", action="store_true", help="also measure suggest_category through Django")
    ap.add_argument("--django-only", action="store_true", help="only the Django-side measurement")
    ap.add_argument("--django-train", type=int, default=0, metavar="N",
                    help="with --django: also time `jiedao insight retrain` on N accepted cases")
    args = ap.parse_args(argv)
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # pin to one core

    t0 = time.perf_counter()
    get_tokenizer()
    print(f"jieba init: {time.perf_counter() - t0:.2f}s (once per process)")
    labelled = tio.read_messages(args.data / "messages_labeled.csv", require_label=True)
    hotspot = tio.read_messages(args.data / "messages_hotspot.csv")
    if args.django or args.django_only:
        django_side([(m.title, m.text) for m in hotspot], train_cases=args.django_train)
        if args.django_only:
            return 0
    tree = tio.read_tree(args.data / "taxonomy.csv")
    examples = [Example(text=m.text, label=m.category, title=m.title, id=m.id) for m in labelled]

    t0 = time.perf_counter()
    model = train(examples, tree)
    print(f"train on {len(examples)} + tree: {time.perf_counter() - t0:.2f}s")

    # suggestions, one at a time
    msgs = [(m.title, m.text) for m in hotspot]
    for title, text in msgs[:200]:  # warm-up
        model.suggest(text, title=title)
    t0 = time.perf_counter()
    for title, text in msgs:
        model.suggest(text, title=title)
    dt = time.perf_counter() - t0
    print(f"suggest (one call per message): {len(msgs) / dt:,.0f} suggestions/s  ({len(msgs)} messages, {dt:.2f}s)")
    t0 = time.perf_counter()
    for k in range(0, len(msgs), 256):
        model.suggest_many(msgs[k : k + 256])
    dt = time.perf_counter() - t0
    print(f"suggest_many (batches of 256):  {len(msgs) / dt:,.0f} suggestions/s")

    # training on n resampled messages
    rng = random.Random(0)
    labels = model.predict(msgs)
    pool = [(e.title, e.text, e.label) for e in examples] + [
        (t, x, lab) for (t, x), lab in zip(msgs, labels, strict=True)
    ]
    big = []
    for k in range(args.n):
        title, text, lab = pool[rng.randrange(len(pool))]
        cut = rng.randrange(0, max(1, len(text) // 3))
        big.append(Example(text=text[cut:], title=title, label=lab, id=str(k)))
    t0 = time.perf_counter()
    big_model = train(big, tree)
    dt = time.perf_counter() - t0
    print(
        f"train on {args.n:,} resampled messages + tree: {dt:.1f}s  "
        f"({len(big_model.vocab):,} features, {len(big_model.labels)} categories)"
    )
    return 0


def django_side(msgs: list[tuple[str, str]], train_cases: int = 0) -> None:
    """suggest_category as the intake view calls it, on a fresh SQLite database."""
    import tempfile

    os.environ["JIEDAO_DATA_DIR"] = tempfile.mkdtemp(prefix="jiedao-insight-bench-")
    os.environ.pop("JIEDAO_DATABASE_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "jiedao.settings"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"[django] migrate a fresh SQLite database: {time.perf_counter() - t0:.1f}s")
    from jiedao.cases.selectors import suggest_category
    from jiedao.insight import selectors as insight

    t0 = time.perf_counter()
    first = suggest_category(msgs[0][1], title=msgs[0][0])
    print(f"[django] first call (builds the catalogue's cold-start model): {time.perf_counter() - t0:.2f}s "
          f"-> {[(c.name, p) for c, p in first]}")
    for title, text in msgs[:200]:  # warm-up
        suggest_category(text, title=title)
    model = insight.current_model().model
    t0 = time.perf_counter()
    for title, text in msgs:
        model.suggest(text, title=title)
    floor = len(msgs) / (time.perf_counter() - t0)
    print(f"[django] the same model called directly (the floor): {floor:,.0f} suggestions/s")
    for recheck, label in ((insight.RECHECK_SECONDS, "default: looks for a new version once a second"),
                           (0, "worst case: looks on every call")):
        settings.JIEDAO_INSIGHT_RECHECK_SECONDS = recheck
        times = []
        t0 = time.perf_counter()
        for title, text in msgs:
            t1 = time.perf_counter()
            suggest_category(text, title=title)
            times.append(time.perf_counter() - t1)
        dt = time.perf_counter() - t0
        times.sort()
        p50, p99, worst = (times[len(times) // 2], times[int(len(times) * 0.99)], times[-1])
        print(f"[django] suggest_category ({label}): {len(msgs) / dt:,.0f} suggestions/s "
              f"({len(msgs) / dt / floor:.2f} of the floor); "
              f"per call p50 {p50 * 1000:.2f} ms, p99 {p99 * 1000:.2f} ms, max {worst * 1000:.1f} ms")
    if train_cases:
        django_train(msgs, train_cases)


def django_train(msgs: list[tuple[str, str]], n: int) -> None:
    """`classifier_train` on n accepted cases (inserted in bulk; labels from the cold-start model,
    so the figure is time, not quality), twice: the first version, then one compared with it."""
    from django.utils import timezone

    from jiedao.cases.models import Case
    from jiedao.cases.selectors import suggest_category
    from jiedao.insight import services
    from jiedao.org import services as org
    from jiedao.org.models import NodeKind, User

    root = User.objects.create_superuser("bench", password="Bench-2026-insight")
    sub = org.node_create(actor=root, parent=None, kind=NodeKind.SUBDISTRICT, name="基准街道", code="330225009000")
    grid = org.node_create(actor=root, parent=org.node_create(
        actor=root, parent=sub, kind=NodeKind.COMMUNITY, name="基准社区", code="330225009001"),
        kind=NodeKind.GRID, name="基准网格", code="330225009001001")
    rng = random.Random(1)
    rows, now = [], timezone.now()
    for k in range(n):
        title, text = msgs[rng.randrange(len(msgs))]
        cut = rng.randrange(0, max(1, len(text) // 3))
        category = suggest_category(text, title=title)[0][0]
        rows.append(Case(ticket=f"B{k:09d}", source="door_visit", category=category, tier=category.default_tier,
                         state="accepted", node=grid, org_path=grid.path, subdistrict=sub, title=title[:100] or "无题",
                         description=text[cut:][:4000] or title, created_at=now))
    Case.objects.bulk_create(rows, batch_size=1000)
    for round_ in (1, 2):
        t0, c0 = time.perf_counter(), time.process_time()
        version = services.classifier_train(actor=None)
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"[django] retrain #{round_} on {n:,} cases: {dt:.1f}s wall, {cpu:.1f}s CPU (train {version.training_cases:,}, "
              f"held back {version.holdout_cases:,}, model {len(bytes(version.model_data)) / 1e6:.1f} MB) "
              f"-> {version.decision}")


if __name__ == "__main__":
    raise SystemExit(main())
