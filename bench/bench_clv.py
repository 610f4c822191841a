"""Benchmark: BG/NBD + Gamma-Gamma fitting and scoring on a synthetic customer base.

Generates N customers from a BG/NBD process (CDNOW-like parameters, weekly time unit, purchase
dates at day resolution) with Gamma-Gamma spend, then times with our code:
  - BG/NBD maximum-likelihood fit (compression included),
  - Gamma-Gamma fit on the repeat buyers,
  - scoring every customer (P(alive) and expected purchases over 52 weeks),
  - 12-month discounted CLV for every customer,
and the same steps with `lifetimes` when it is importable (it is not a Rapport dependency).
Reports medians over --repeats runs, the ratio ours/lifetimes, and peak memory per step
(tracemalloc, measured in a separate untimed run) plus the process's peak RSS.

    python bench/bench_clv.py --customers 1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rapport.analytics.numeric.bgnbd import BgNbdModel  # noqa: E402
from rapport.analytics.numeric.clv import discounted_expected_purchases  # noqa: E402
from rapport.analytics.numeric.gammagamma import GammaGammaModel  # noqa: E402
from rapport.analytics.numeric.histories import compress_histories  # noqa: E402
from rapport.analytics.numeric.simulate import simulate_bg_nbd, simulate_spend  # noqa: E402

TRUE_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
TRUE_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}
# lifetimes' CLV helper uses 4.345 weeks a month; we use the same so the results are comparable.
LIFETIMES_WEEKS_PER_MONTH = 4.345


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def peak_mib(fn: Callable[[], object]) -> float:
    """Peak traced allocation (MiB) of one call; numpy reports its buffers to tracemalloc."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-lifetimes", action="store_true")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    data = simulate_bg_nbd(args.customers, **TRUE_BG, max_age_days=546, rng=rng)
    data["monetary"] = simulate_spend(data["frequency"].to_numpy(), **TRUE_GG, rng=rng)
    x = data["frequency"].to_numpy(dtype=np.float64)
    tx = data["recency"].to_numpy()
    big_t = data["T"].to_numpy()
    z = data["monetary"].to_numpy()
    repeat = x > 0
    distinct = compress_histories(x, tx, big_t).n_distinct
    print(
        f"customers: {args.customers:,}  distinct (x, t_x, T): {distinct:,}  "
        f"repeat buyers: {int(repeat.sum()):,}  generated in {time.perf_counter() - start:.1f} s"
    )

    ours: dict[str, Callable[[], object]] = {}
    ours["BG/NBD fit"] = lambda: BgNbdModel.fit(x, tx, big_t)
    ours["Gamma-Gamma fit"] = lambda: GammaGammaModel.fit(x, z)
    bg = BgNbdModel(**TRUE_BG)
    ours["score P(alive)+E[X(52)]"] = lambda: bg.score(x, tx, big_t, 52.0)
    gg = GammaGammaModel(**TRUE_GG)
    ours["12-month CLV"] = lambda: (
        gg.expected_average_spend(x, z)
        * discounted_expected_purchases(
            bg,
            x,
            tx,
            big_t,
            periods=12,
            period_length=LIFETIMES_WEEKS_PER_MONTH,
            discount_rate=0.01,
        )
    )

    theirs: dict[str, Callable[[], object]] = {}
    lifetimes_note = ""
    if args.skip_lifetimes:
        lifetimes_note = "lifetimes skipped (--skip-lifetimes)"
    else:
        try:
            import lifetimes  # noqa: PLC0415
            from lifetimes import BetaGeoFitter, GammaGammaFitter  # noqa: PLC0415
        except ImportError:
            lifetimes_note = "lifetimes not installed"
        else:
            lifetimes_note = f"lifetimes {lifetimes.__version__}"
            frame = data
            repeaters = frame[repeat]
            fitted_bg = BetaGeoFitter()
            fitted_bg.params_ = pd.Series(TRUE_BG)
            # lifetimes attaches `predict` during fit(); its CLV helper calls it.
            fitted_bg.predict = fitted_bg.conditional_expected_number_of_purchases_up_to_time
            fitted_gg = GammaGammaFitter()
            fitted_gg.params_ = pd.Series(TRUE_GG).rename({"gamma": "v"})

            theirs["BG/NBD fit"] = lambda: BetaGeoFitter().fit(
                frame["frequency"], frame["recency"], frame["T"]
            )
            theirs["Gamma-Gamma fit"] = lambda: GammaGammaFitter().fit(
                repeaters["frequency"], repeaters["monetary"]
            )
            theirs["score P(alive)+E[X(52)]"] = lambda: (
                fitted_bg.conditional_probability_alive(x, tx, big_t),
                fitted_bg.conditional_expected_number_of_purchases_up_to_time(52.0, x, tx, big_t),
            )
            theirs["12-month CLV"] = lambda: fitted_gg.customer_lifetime_value(
                fitted_bg,
                frame["frequency"],
                frame["recency"],
                frame["T"],
                frame["monetary"],
                time=12,
                discount_rate=0.01,
                freq="W",
            )

    rows = []
    results: dict[str, object] = {}
    for step, fn in ours.items():
        ours_s, results[step] = timed(fn, args.repeats)
        ours_mem = float("nan") if args.no_memory else peak_mib(fn)
        if step in theirs:
            their_s, results["lifetimes " + step] = timed(theirs[step], args.repeats)
            their_mem = float("nan") if args.no_memory else peak_mib(theirs[step])
        else:
            their_s = their_mem = float("nan")
        rows.append((step, ours_s, their_s, ours_s / their_s, ours_mem, their_mem))

    print(f"repeats: {args.repeats} (median); {lifetimes_note}")
    header = ("step", "ours s", "lifetimes s", "ours/lifetimes", "ours MiB", "lifetimes MiB")
    print(f"| {header[0]:<24} | " + " | ".join(f"{h:>14}" for h in header[1:]) + " |")
    print("|" + "-" * 26 + "|" + "|".join("-" * 16 for _ in header[1:]) + "|")
    for step, a, b, ratio, ma, mb in rows:
        cells = [f"{a:14.3f}", f"{b:14.3f}", f"{ratio:14.3f}", f"{ma:14.1f}", f"{mb:14.1f}"]
        print(f"| {step:<24} | " + " | ".join(cells) + " |")

    fit = results["BG/NBD fit"]
    print(
        "ours BG/NBD: "
        + ", ".join(f"{k}={v:.4f}" for k, v in fit.params.items())
        + f"  (true {TRUE_BG}); LL={fit.log_likelihood:.1f}, iterations={fit.iterations}"
    )
    ggfit = results["Gamma-Gamma fit"]
    print("ours Gamma-Gamma: " + ", ".join(f"{k}={v:.4f}" for k, v in ggfit.params.items()))
    if "lifetimes BG/NBD fit" in results:
        lt = results["lifetimes BG/NBD fit"]
        print("lifetimes BG/NBD: " + ", ".join(f"{k}={v:.4f}" for k, v in lt.params_.items()))
        ltg = results["lifetimes Gamma-Gamma fit"]
        print("lifetimes Gamma-Gamma: " + ", ".join(f"{k}={v:.4f}" for k, v in ltg.params_.items()))
        alive, expected = results["score P(alive)+E[X(52)]"]
        lt_alive, lt_expected = results["lifetimes score P(alive)+E[X(52)]"]
        ours_clv = results["12-month CLV"]
        lt_clv = np.asarray(results["lifetimes 12-month CLV"], dtype=np.float64)
        print(
            "max |ours - lifetimes| at the same parameters: "
            f"P(alive) {np.max(np.abs(alive - lt_alive)):.2e}, "
            f"E[X(52)] {np.max(np.abs(expected - lt_expected)):.2e}, "
            f"CLV {np.max(np.abs(ours_clv - lt_clv)):.2e} (max CLV {ours_clv.max():.1f})"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
