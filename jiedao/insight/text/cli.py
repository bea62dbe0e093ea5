"""Command line: ``evaluate`` (category suggestion) and ``similar`` (same-problem pairs).

To be wired as ``jiedao insight evaluate|similar``; until then::

    python -m jiedao.insight.text.cli evaluate --train TRAIN.csv --test TEST.csv [--tree TREE.csv]
    python -m jiedao.insight.text.cli similar IN.csv OUT.csv

``evaluate`` trains a fresh model on TRAIN (and the category tree, when given), scores TEST and
prints a per-category table; its last line is ``macro_f1=0.xxx accuracy=0.xxx``. ``similar``
writes ``id_a,id_b,score`` rows for the pairs judged to report the same problem.
Neither needs a database or a server.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

__all__ = ["main", "main_evaluate", "main_similar"]


def _examples(messages):
    from .classifier import Example

    return [Example(text=m.text, label=m.category, title=m.title, id=m.id) for m in messages]


def main_evaluate(argv: Sequence[str] | None = None) -> int:
    from . import io as tio
    from .classifier import evaluate, train

    ap = argparse.ArgumentParser(
        prog="jiedao insight evaluate",
        description="Train a category model on one labelled csv and report accuracy and macro-F1 on another.",
    )
    ap.add_argument(
        "--train",
        required=True,
        help="labelled messages (id,title,text,category or 留言编号,留言主题,留言详情,一级分类)",
    )
    ap.add_argument("--test", required=True, help="labelled messages to score")
    ap.add_argument("--tree", help="category tree csv (一级分类,二级分类,三级分类)")
    ap.add_argument("--quiet", action="store_true", help="print only the last line")
    args = ap.parse_args(argv)

    train_msgs = tio.read_messages(args.train, require_label=True)
    test_msgs = tio.read_messages(args.test, require_label=True)
    tree = tio.read_tree(args.tree) if args.tree else None
    if not train_msgs and not tree:
        print("no labelled training messages and no tree", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    model = train(_examples(train_msgs), tree)
    t1 = time.perf_counter()
    report = evaluate(model, _examples(test_msgs))
    t2 = time.perf_counter()
    if not args.quiet:
        unseen = sorted({m.category for m in test_msgs} - set(model.labels))
        print(
            f"train: {len(train_msgs)} messages, {len(tree or [])} tree rows, {len(model.labels)} categories, {t1 - t0:.1f}s"
        )
        print(f"test: {len(test_msgs)} messages, scored in {t2 - t1:.1f}s")
        if unseen:
            print(f"test categories never seen in training (always wrong): {', '.join(unseen)}")
        print(report.format())
    print(f"macro_f1={report.macro_f1:.3f} accuracy={report.accuracy:.3f}")
    return 0


def main_similar(argv: Sequence[str] | None = None) -> int:
    from . import io as tio
    from .similar import find_pairs

    ap = argparse.ArgumentParser(
        prog="jiedao insight similar",
        description="Write the pairs of messages judged to report the same problem (id_a,id_b,score).",
    )
    ap.add_argument("input", help="messages csv/xlsx (id,title,text or 留言编号,留言主题,留言详情)")
    ap.add_argument("output", help="pairs csv to write")
    args = ap.parse_args(argv)
    msgs = tio.read_messages(args.input)
    t0 = time.perf_counter()
    pairs = find_pairs(msgs)
    n = tio.write_pairs(args.output, pairs)
    print(f"messages: {len(msgs)}  pairs: {n}  time: {time.perf_counter() - t0:.1f}s -> {args.output}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("evaluate", "similar"):
        print("usage: python -m jiedao.insight.text.cli {evaluate|similar} ...", file=sys.stderr)
        return 2
    cmd, rest = argv[0], argv[1:]
    return main_evaluate(rest) if cmd == "evaluate" else main_similar(rest)


if __name__ == "__main__":
    raise SystemExit(main())
