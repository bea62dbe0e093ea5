"""Speed of category suggestion and of training, on one core.

* suggestions/s: ``model.suggest(text, title=...)`` one message at a time, and ``suggest_many``
  in batches, over real messages (messages_hotspot.csv);
* training time on 10,000 messages resampled from the shared data: the 251 labelled messages
  and the 4,326 hotspot messages (labelled by a model trained on the 251), each copy cut at a
  random point of its body so that the copies differ; plus the category tree.

    .venv/bin/python bench/insight_bench.py [--n 10000] [--data DIR]

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
    args = ap.parse_args(argv)
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # pin to one core

    t0 = time.perf_counter()
    get_tokenizer()
    print(f"jieba init: {time.perf_counter() - t0:.2f}s (once per process)")
    labelled = tio.read_messages(args.data / "messages_labeled.csv", require_label=True)
    hotspot = tio.read_messages(args.data / "messages_hotspot.csv")
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


if __name__ == "__main__":
    raise SystemExit(main())
