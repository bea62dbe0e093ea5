"""Cross-validated category suggestion on the shared labelled messages.

Repeated stratified 5-fold over messages_labeled.csv (251 messages, 7 categories); every fold
trains a fresh model on four fifths plus the category tree (taxonomy.csv) and scores the fifth.
Prints mean ± sd of macro-F1 and accuracy.

    .venv/bin/python bench/insight_cv.py [--repeats 5] [--ablation] [--jobs N] [--data DIR]

``--ablation`` also runs each hand-made component left out: without tree and seed keywords (a
plain word + n-gram model), with the tree only (no seed keyword list), with the seed keywords only
(no tree), and without the keyword-hit features (the tree and seeds only as pseudo-messages). A second figure is the model trained on all 251 messages
scored on tests/insight/data/hotspot_category_dev.csv — 142 messages of messages_hotspot.csv that
we labelled ourselves (skewed: 77 城乡建设; read its accuracy, its macro-F1 is noisy).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jiedao.insight.text import io as tio  # noqa: E402
from jiedao.insight.text.classifier import Example, TrainConfig, evaluate, train  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "messages"
HOTSPOT_DEV = ROOT / "tests" / "insight" / "data" / "hotspot_category_dev.csv"


def folds(labels: list[str], k: int, repeats: int, seed: int = 0):
    from sklearn.model_selection import RepeatedStratifiedKFold

    splitter = RepeatedStratifiedKFold(n_splits=k, n_repeats=repeats, random_state=seed)
    yield from splitter.split(labels, labels)


def cross_validate(examples, tree, *, repeats: int, seeds=None, config=None) -> dict:
    labels = [e.label for e in examples]
    f1s, accs, secs = [], [], []
    for tr, te in folds(labels, 5, repeats):
        t0 = time.perf_counter()
        model = train([examples[i] for i in tr], tree, seeds=seeds, config=config)
        secs.append(time.perf_counter() - t0)
        rep = evaluate(model, [examples[i] for i in te])
        f1s.append(rep.macro_f1)
        accs.append(rep.accuracy)
    return {
        "macro_f1": (statistics.mean(f1s), statistics.stdev(f1s)),
        "accuracy": (statistics.mean(accs), statistics.stdev(accs)),
        "folds": len(f1s),
        "train_seconds": statistics.mean(secs),
    }


def _run(job) -> dict:
    examples, tree, repeats, seeds, cfg = job
    return cross_validate(examples, tree, repeats=repeats, seeds=seeds, config=TrainConfig(**cfg) if cfg else None)


def line(name: str, r: dict) -> str:
    f, a = r["macro_f1"], r["accuracy"]
    return (
        f"{name:<28} macro_f1={f[0]:.3f}±{f[1]:.3f}  accuracy={a[0]:.3f}±{a[1]:.3f}  "
        f"({r['folds']} folds, {r['train_seconds']:.1f}s/train)"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--ablation", action="store_true")
    ap.add_argument("--jobs", type=int, default=1, help="setups cross-validated in parallel processes")
    args = ap.parse_args(argv)

    msgs = tio.read_messages(args.data / "messages_labeled.csv", require_label=True)
    tree = tio.read_tree(args.data / "taxonomy.csv")
    examples = [Example(text=m.text, label=m.category, title=m.title, id=m.id) for m in msgs]
    print(f"{len(examples)} labelled messages, {len(set(e.label for e in examples))} categories, {len(tree)} tree rows")
    setups = [("tree + seed keywords", True, None, None)]
    if args.ablation:
        no_hits = {"keyword_scale": 0.0}
        setups += [
            ("plain (no tree, no seeds)", False, {}, no_hits),
            ("tree only", True, {}, None),
            ("seed keywords only", False, None, None),
            ("tree + seeds, no hit features", True, None, no_hits),
            ("tree, no hit features", True, {}, no_hits),
        ]
    jobs = [(examples, tree if with_tree else None, args.repeats, seeds, cfg) for _, with_tree, seeds, cfg in setups]
    if args.jobs > 1:
        from multiprocessing import Pool

        with Pool(min(args.jobs, len(jobs))) as pool:
            results = pool.map(_run, jobs)
    else:
        results = [_run(job) for job in jobs]
    for (name, *_rest), result in zip(setups, results, strict=True):
        print(line(name, result))
    main_result = results[0]

    if HOTSPOT_DEV.exists() and (args.data / "messages_hotspot.csv").exists():
        hot = {m.id: m for m in tio.read_messages(args.data / "messages_hotspot.csv")}
        with open(HOTSPOT_DEV, encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if r["id"] in hot]
        dev = [Example(text=hot[r["id"]].text, title=hot[r["id"]].title, label=r["category"]) for r in rows]
        rep = evaluate(train(examples, tree), dev)
        print(
            f"{'hotspot dev (our labels)':<28} macro_f1={rep.macro_f1:.3f}  accuracy={rep.accuracy:.3f}  "
            f"({rep.n} messages, trained on all {len(examples)})"
        )
    f, a = main_result["macro_f1"], main_result["accuracy"]
    print(f"macro_f1={f[0]:.3f}±{f[1]:.3f} accuracy={a[0]:.3f}±{a[1]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
