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


def server_cpu() -> float:
    """CPU seconds (utime+stime) of this Django connection's PostgreSQL backend, read from
    /proc on the same machine (the machine's load does not inflate it the way it inflates
    wall time); 0 on SQLite or when the backend runs elsewhere."""
    import os
    from pathlib import Path

    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
