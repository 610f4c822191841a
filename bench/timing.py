"""Shared timing for the benchmarks: median and p95 of a call over a list of arguments."""

import statistics
import time
from collections.abc import Callable, Sequence


def p50_p95(fn: Callable[[object], object], args: Sequence, warm: int = 3) -> tuple[float, float]:
    """Call fn(a) for the first `warm` arguments untimed, then once per argument; return the
    median and 95th percentile wall time in milliseconds."""
    for a in args[:warm]:
        fn(a)
    times = []
    for a in args:
        start = time.perf_counter()
        fn(a)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.95))]
