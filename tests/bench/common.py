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


def interleaved(
    items: list[object],
    reference: Callable[[object], object],
    ours: Callable[[int, object], object],
    chunk: int = 10,
) -> tuple[float, float]:
    """Seconds of `reference(item)` and of `ours(index, item)` over all `items`, timed in
    alternating chunks, so that both meet the same load of a shared machine."""
    reference_s = ours_s = 0.0
    for start in range(0, len(items), chunk):
        part = list(enumerate(items[start : start + chunk], start=start))
        reference_s += timed(lambda part=part: [reference(item) for _, item in part])
        ours_s += timed(lambda part=part: [ours(index, item) for index, item in part])
    return reference_s, ours_s
