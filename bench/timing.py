"""Timing helpers the in-process benchmark scripts share: run a function, print median and p95."""

from __future__ import annotations

import statistics
import time


def timed(fn, repeat: int = 1) -> list[float]:
    """Milliseconds of `repeat` calls of `fn`."""
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def line(label: str, values: list[float], extra: str = "") -> None:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
    print(f"{label:<46} median {statistics.median(values):8.1f} ms   p95 {p95:8.1f} ms  {extra}", flush=True)
