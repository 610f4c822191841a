"""Benchmark: the probabilistic forecast's Monte Carlo over 100k open opportunities (issue 15,
branch fcst; target ≤ 2 s).

Times `rapport.forecasts.montecarlo.simulate` (1,000 runs: win draws, close dates from the
slip model for deals with an expected close date and from time-in-stage for the others,
P10/P50/P90) on synthetic arrays, against the same run's baseline: drawing sims × deals
float32 uniform random numbers, which any simulation of this shape must do. Wall and CPU
seconds, the load average beside them; the target is judged on CPU seconds (one core busy
for that long), since the wall time of a shared machine measures the others. Not measured here: reading the deals
and their stage history from the database (`forecasts.history.load_history`).

    python bench/bench_forecast.py [--deals 100000] [--sims 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def arrays(n: int, seed: int = 1):
    import numpy as np

    from rapport.forecasts.montecarlo import Deals, Timing

    rng = np.random.default_rng(seed)
    stage = rng.integers(1, 6, n)
    anchor = np.where(rng.random(n) < 0.7, rng.integers(-20, 120, n).astype(float), np.nan)
    deals = Deals(
        rng.integers(1, 500, n) * 100.0,
        rng.random(n),
        stage.astype(np.int64),
        rng.integers(0, 60, n).astype(float),
        anchor,
    )
    timing = Timing(
        slips=rng.normal(10, 20, 2000).round(),
        remaining={s: np.sort(rng.gamma(2.0, 20.0, 3000)) for s in range(1, 6)},
    )
    return deals, timing


def main() -> None:
    import numpy as np

    from rapport.forecasts.montecarlo import simulate

    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--sims", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    deals, timing = arrays(args.deals)

    def timed(fn):
        best_wall, best_cpu = float("inf"), float("inf")
        for _ in range(args.repeat):
            w, c = time.perf_counter(), time.process_time()
            fn()
            best_wall = min(best_wall, time.perf_counter() - w)
            best_cpu = min(best_cpu, time.process_time() - c)
        return best_wall, best_cpu

    def run():
        simulate(deals, timing, lo=0, hi=90, sims=args.sims, seed=0)

    def baseline():
        rng = np.random.default_rng(0)
        for start in range(0, args.deals, 16_384):
            n = min(16_384, args.deals - start)
            rng.random((args.sims, n), dtype=np.float32)

    wall, cpu = timed(run)
    base_wall, base_cpu = timed(baseline)
    load = os.getloadavg()
    print(f"deals={args.deals:,} sims={args.sims:,} load average {load[0]:.1f} {load[1]:.1f}")
    print(f"forecast     wall {wall:6.2f} s  cpu {cpu:6.2f} s  (target <= 2 s)")
    print(f"random draws wall {base_wall:6.2f} s  cpu {base_cpu:6.2f} s")
    print(f"ratio (cpu)  {cpu / base_cpu:.2f}x of the unavoidable random draws")
    print(f"target met (cpu): {'yes' if cpu <= 2 else 'no'}")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")
    main()
