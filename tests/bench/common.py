"""Small helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def describe_latencies(label: str, samples_s: list[float]) -> str:
    ms = [s * 1000 for s in samples_s]
    return (
        f"{label}: n={len(ms)} p50={percentile(ms, 0.5):.2f} ms "
        f"p95={percentile(ms, 0.95):.2f} ms max={max(ms):.2f} ms "
        f"mean={statistics.fmean(ms):.2f} ms"
    )
