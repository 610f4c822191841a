"""Test database set-up: one migrated template cloned per xdist worker vs every worker migrating.

Runs `pytest -q -n 2 --dist loadfile <paths> --durations=0` alternately with
RAPPORT_TEST_DB_TEMPLATE=0 (before: pytest-django's own set-up, each worker migrates) and
with the template (after), on the database of DATABASE_URL (SQLite in memory by default), and
prints per variant the median wall time, the CPU of pytest and its workers (RUSAGE_CHILDREN;
the PostgreSQL server's own CPU is not in it), the slowest `setup` of the run (the first
database test of a worker waits for that worker's database: time to first test) and the ratio
after/before.

    .venv/bin/python bench/bench_test_db_setup.py [--rounds 2] [paths …]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rapport_x .venv/bin/python bench/bench_test_db_setup.py
"""

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUP = re.compile(r"^([\d.]+)s setup\s", re.MULTILINE)


def run_once(paths: list[str], template: bool) -> dict:
    env = {**os.environ, "RAPPORT_TEST_DB_TEMPLATE": "1" if template else "0"}
    command = [sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadfile"]
    command += ["--durations=0", "--durations-min=0.5", *paths]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"pytest failed ({'after' if template else 'before'}):\n{done.stdout[-3000:]}")
    setups = [float(s) for s in SETUP.findall(done.stdout)]
    return {
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "first": max(setups, default=0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("paths", nargs="*", default=["rapport/identity"])
    args = parser.parse_args()
    backend = (
        "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    )
    print(f"backend {backend}, paths {' '.join(args.paths)}, rounds {args.rounds}")
    print(f"load before: {Path('/proc/loadavg').read_text().split()[:3]}")
    results: dict[str, list[dict]] = {"before": [], "after": []}
    for round_no in range(args.rounds):
        # Alternate the order so that neither variant always runs second.
        order = ("before", "after") if round_no % 2 == 0 else ("after", "before")
        for name in order:
            sample = run_once(args.paths, template=name == "after")
            results[name].append(sample)
            print(
                f"round {round_no + 1} {name:6}: wall {sample['wall']:6.1f} s, "
                f"cpu {sample['cpu']:6.1f} s, slowest setup {sample['first']:5.1f} s",
                flush=True,
            )
    print(f"load after: {Path('/proc/loadavg').read_text().split()[:3]}")
    medians = {
        name: {key: statistics.median(s[key] for s in samples) for key in samples[0]}
        for name, samples in results.items()
    }
    for key, label in (("wall", "wall"), ("cpu", "CPU"), ("first", "time to first test")):
        before, after = medians["before"][key], medians["after"][key]
        ratio = after / before if before else float("nan")
        print(f"{label:20}: before {before:6.1f} s, after {after:6.1f} s, ratio {ratio:.2f}")


if __name__ == "__main__":
    main()
