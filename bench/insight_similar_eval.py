"""Similar-case detection on the hand-labelled dev pairs.

Runs ``find_pairs`` on all 4,326 messages of messages_hotspot.csv, then reads the labelled pairs
of tests/insight/data/similar_pairs_dev.csv (our own labels: ``same`` = the same problem,
``lookalike`` = the same kind of problem at another place, ``different`` = another problem) and
prints, for each file, the recall on ``same`` pairs and the share of ``lookalike`` / ``different`` pairs merged.

    .venv/bin/python bench/insight_similar_eval.py [--data DIR] [--show]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jiedao.insight.text import io as tio  # noqa: E402
from jiedao.insight.text import similar  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "messages"
DEV = ROOT / "tests" / "insight" / "data" / "similar_pairs_dev.csv"
HOLDOUT = ROOT / "tests" / "insight" / "data" / "similar_pairs_holdout.csv"
DEV2 = ROOT / "tests" / "insight" / "data" / "similar_pairs_dev2.csv"


def load_dev(path: Path = DEV) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def rates(found: set[tuple[str, str]], dev: list[dict]) -> dict[str, tuple[int, int]]:
    """label → (merged, total)."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in dev:
        key = tuple(sorted((r["id_a"], r["id_b"])))
        out[r["label"]][1] += 1
        if key in found:
            out[r["label"]][0] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


ABLATIONS = (
    ("all (default)", {}),
    ("no problem words (problem_check=False)", {"problem_check": False}),
    ("no body anchors (body_anchors=False)", {"body_anchors": False}),
    ("neither of these two", {"problem_check": False, "body_anchors": False}),
    ("no finer-place check (fine_check=False)", {"fine_check": False}),
    ("no road/river threshold (line_threshold=0)", {"line_threshold": 0.0}),
    ("neither", {"fine_check": False, "line_threshold": 0.0}),
)


def ablation(msgs) -> int:
    """One row per SimilarConfig variant: merged share of each label of the three pair files."""
    files = [("dev", DEV), ("holdout", HOLDOUT), ("dev2", DEV2)]
    sets = [(name, load_dev(path)) for name, path in files if path.exists()]
    head = " | ".join(f"{name} same | {name} look-alike" for name, _ in sets)
    print(f"| setup | {head} | pairs out | largest group |")
    for label, changes in ABLATIONS:
        res = similar.run(msgs, similar.SimilarConfig(**changes))
        ids = [d.id for d in res.docs]
        found = {tuple(sorted((ids[i], ids[j]))) for i, j in res.pairs}
        cells = []
        for _name, rows in sets:
            r = rates(found, rows)
            cells += [f"{r['same'][0]}/{r['same'][1]}", f"{r['lookalike'][0]}/{r['lookalike'][1]}"]
        print(f"| {label} | {' | '.join(cells)} | {len(found):,} | {max(map(len, res.groups), default=0)} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--show", action="store_true", help="print the misjudged dev pairs")
    ap.add_argument("--ablation", action="store_true", help="each place component switched off in turn")
    args = ap.parse_args(argv)
    msgs = tio.read_messages(args.data / "messages_hotspot.csv")
    if args.ablation:
        return ablation(msgs)
    t0, c0 = time.perf_counter(), time.process_time()
    res = similar.run(msgs)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    ids = [d.id for d in res.docs]
    found = {tuple(sorted((ids[i], ids[j]))) for i, j in res.pairs}
    dev = load_dev()
    chained = sum(1 for g in res.groups for x in g for y in g if x < y and not res.compatible(x, y))
    print(f"messages: {len(msgs)}  pairs out: {len(found)}  related (shown, not merged): {len(res.related)}  "
          f"groups: {len(res.groups)}  largest: {max(map(len, res.groups), default=0)}  "
          f"pairs inside a group naming two places: {chained}  time: {dt:.1f}s wall, {cpu:.1f}s CPU")
    for name, path in (
        ("dev (tuned on)", DEV),
        ("holdout (labelled after tuning)", HOLDOUT),
        ("dev2 (issue 15: other places, same wording)", DEV2),
    ):
        if not path.exists():
            continue
        r = rates(found, load_dev(path))
        print(name)
        for label in ("same", "lookalike", "different"):
            if label in r:
                k, n = r[label]
                print(f"{label:>12}: {k}/{n} merged = {k / n:.3f}")
    if args.show:
        by_id = {m.id: m for m in msgs}
        judged = {tuple(sorted((ids[i], ids[j]))): f for i, j, _s, _sc, f in res.judged}
        for row in dev:
            key = tuple(sorted((row["id_a"], row["id_b"])))
            merged = key in found
            if merged == (row["label"] == "same"):
                continue
            f = judged.get(key)
            ev = (
                f"topic={f.topic:.2f} t={f.title:.2f} b={f.body:.2f} copy={f.copy:.2f} slot={f.slot} match={f.match:.2f} {f.matched} "
                f"conflict={f.conflict:.1f} {f.conflicting} anchors={f.anchors} strong={f.strong} problem={f.problem:.2f} "
                f"fine={f.fine} related={f.related}"
                if f
                else "not a candidate"
            )
            print(f"\n[{row['label']}] {key[0]}|{key[1]} {row['note']}  merged={merged}  {ev}")
            for k in key:
                m = by_id[k]
                print(f"   {m.title[:50]} || {m.text[:90]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
