"""The benchmark suite at a scale: generate the data, run the scripts, print ONE table.

    SCALE=small python bench/run.py                 # SQLite file under var/bench/, minutes
    SCALE=1m DATABASE_URL=postgres://…/rapport_bench python bench/run.py

Steps, each against a baseline measured in the same run:
  1. data: `manage.py demo_data --contacts N --activities M --orders K` (bulk inserts) into
     the database of DATABASE_URL (default: var/bench/bench-<scale>.sqlite3), unless it
     already holds that many contacts (then it is reused: delete the file or drop the
     database to start again);
  2. bench_web.py: list API p50/p95 vs the bare SQL of the same requests, account and
     board page renders, dashboard KPIs, the web worker's peak RSS;
  3. bench_search.py: typeahead p50/p95 vs the bare index query;
  4. bench_import.py: CSV import rows/s vs executemany (SQLite) / COPY (PostgreSQL) and
     django-import-export (when importable: from var/bench/die-site, which `make bench`
     fills), in a separate database (it empties its tables): a temporary SQLite file, or
     `<database>_import` next to the PostgreSQL one.
  5. bench_automation.py: the import rate with one active rule vs without (alternating, same
     run) and event-to-action latency p95 with `db_worker` running, in its own database.

Writes the table with the machine's description to bench/RESULTS.md (--out).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
VAR = ROOT / "var" / "bench"

SCALES = {
    # contacts, activities, orders; import rows; web requests and search queries per case
    "tiny": {"contacts": 2_000, "activities": 10_000, "orders": 1_000, "import": 1_000, "n": 10},
    "small": {
        "contacts": 20_000,
        "activities": 200_000,
        "orders": 10_000,
        "import": 5_000,
        "n": 40,
    },
    "1m": {
        "contacts": 1_000_000,
        "activities": 10_000_000,
        "orders": 500_000,
        "import": 50_000,
        "n": 60,
    },
}

MS = "ms"


def sh(args: list[str], env: dict, log: Path) -> str:
    """Run a step, echo and keep its output; fail loudly."""
    print(f"$ {' '.join(args)}", flush=True)
    started = time.perf_counter()
    proc = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True)  # noqa: S603
    out = proc.stdout + ("\n" + proc.stderr if proc.returncode else "")
    with log.open("a") as f:
        f.write(f"\n$ {' '.join(args)}\n{out}")
    print(proc.stdout, flush=True)
    if proc.returncode:
        print(proc.stderr[-4000:], file=sys.stderr)
        raise SystemExit(f"step failed ({proc.returncode}): {' '.join(args)}")
    print(f"  ({time.perf_counter() - started:.0f}s)", flush=True)
    return proc.stdout


# ----- machine ------------------------------------------------------------------------


def machine(env: dict, url: str) -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(
            int(line.split()[1]) // 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        mem = 0
    db = f"SQLite {sqlite3.sqlite_version}"
    if url.startswith("postgres"):
        try:
            import psycopg

            with psycopg.connect(url) as conn:
                db = "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0]
        except Exception as exc:  # noqa: BLE001 - the description only
            db = f"PostgreSQL (version unknown: {exc})"
    return [
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- CPU: {cpu}, {os.cpu_count()} cores visible; load average at the start "
        f"{os.getloadavg()[0]:.1f}",
        f"- RAM: {mem:,} MiB",
        f"- Python {platform.python_version()}, Django database: {db}",
        f"- OS: {platform.platform()}",
    ]


# ----- parsing the scripts' output ------------------------------------------------------


def parse_search(out: str) -> dict[str, tuple[float, ...]]:
    """bench_search.py's markdown rows: kind -> (bare p50, p95, admin p50, p95, member p50,
    p95, API p50, p95, [ratio,] rep p50, p95)."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"^\| (\w[\w ]*) \((\d+)\) \|(.*)\|$", line)
        if not m:
            continue
        numbers = [float(x) for x in re.findall(r"\d+\.\d+", m.group(3))]
        rows[m.group(1)] = tuple(numbers[:8] + numbers[9:11])
    return rows


def parse_import(out: str) -> tuple[dict[str, float], dict[str, float]]:
    """bench_import.py's table: label -> rows/s; and the peak RSS figures (MiB)."""
    rates = {}
    for line in out.splitlines():
        # label, seconds, rows/s, % of the baseline, then CPU seconds (client, server or -)
        m = re.match(r"^(.+?)\s+(\d+\.\d+)\s+([\d,]+)\s+(\d+)%(?:\s+[\d.]+\s+(?:[\d.]+|-))?$", line)
        if m:
            rates[m.group(1).strip()] = float(m.group(3).replace(",", ""))
    rss = {}
    m = re.search(r"([\d.]+) MiB during the import", out)
    if m:
        rss["import"] = float(m.group(1))
    return rates, rss


# ----- the table ----------------------------------------------------------------------


class Table:
    def __init__(self):
        self.rows: list[tuple[str, ...]] = []

    def add(self, name, p50="", p95="", baseline="", ratio="", target="", status=""):
        self.rows.append((name, p50, p95, baseline, ratio, target, status))

    def markdown(self) -> str:
        head = ("benchmark", "p50 / median", "p95 / value", "baseline (same run)", "ratio",
                "target", "met?")  # fmt: skip
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


def fmt(x: float) -> str:
    return f"{x:,.1f}" if x < 100 else f"{x:,.0f}"


def verdict(ok: bool, miss: str = "") -> str:
    return "yes" if ok else f"**no**{': ' + miss if miss else ''}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", default=os.environ.get("SCALE", "small"), choices=SCALES)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--out", default=str(BENCH / "RESULTS.md"))
    parser.add_argument("--skip", default="", help="comma-separated: web,search,import,automation")
    parser.add_argument("--die-site", default=str(VAR / "die-site"))
    args = parser.parse_args()
    scale = SCALES[args.scale]
    skip = set(filter(None, args.skip.split(",")))
    VAR.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{VAR / f'bench-{args.scale}.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": url, "RAPPORT_DEV": "1", "SQLITE_NO_PERSIST": "0"}
    py = sys.executable
    log = VAR / f"run-{args.scale}.log"
    log.write_text("")
    vendor = "postgresql" if url.startswith("postgres") else "sqlite"
    description = machine(env, url)
    table = Table()
    n = scale["n"]
    earlier = _earlier_runs(Path(args.out))

    def save(generation: str, running: str) -> None:
        """(Re)write the results file: after every step, so a stopped run leaves its rows."""
        contacts = scale["contacts"]
        text = "\n".join(
            [
                "# Benchmark results",
                "",
                f"`make bench SCALE={args.scale}` on {vendor} ({contacts:,} contacts, "
                f"{scale['activities']:,} activities, {scale['orders']:,} orders; data: "
                f"{generation}). Medians and 95th percentiles; each baseline measured in the "
                "same run. Rerun with `make bench` (see bench/README.md)."
                + (f" **Partial: stopped before {running}.**" if running else ""),
                "",
                *description,
                "",
                table.markdown(),
                "",
            ]
        )
        Path(args.out).write_text(text + earlier)

    # 1. data
    sh([py, "manage.py", "migrate", "--noinput", "-v0"], env, log)
    count = sh(
        [py, "manage.py", "shell", "-v0", "-c",
         "from rapport.accounts.models import Contact; print(Contact.all_objects.count())"],
        env, log,
    )  # fmt: skip
    have = int(count.strip().splitlines()[-1])
    generation = f"reused: {have:,} contacts were there"
    if have < scale["contacts"]:
        started = time.perf_counter()
        out = sh(
            [py, "manage.py", "demo_data", "--contacts", str(scale["contacts"] - have),
             "--activities", str(scale["activities"]), "--orders", str(scale["orders"])],
            env, log,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        m = re.search(r"([\d,]+) rows in ([\d.]+)s: ([\d,]+) rows/s", out)
        if m:
            generation = f"{m.group(1)} rows in {seconds:.0f}s"
            table.add(
                "data generator (demo_data, bulk, indexes + search rebuilt)",
                "",
                f"{m.group(3)} rows/s",
                "",
                "",
                "",
                generation,
            )

    save(generation, "the web benchmark")

    # 2. web
    if "web" not in skip:
        result_file = VAR / "web.json"
        sh([py, "bench/bench_web.py", "--requests", str(n), "--json", str(result_file)], env, log)
        web = json.loads(result_file.read_text())
        for label, r in web.items():
            if label.startswith("list API"):
                limit = 2 * r["base_p95"] + 10
                table.add(
                    f"{label} ({r['queries']} queries)",
                    f"{fmt(r['p50'])} ms",
                    f"{fmt(r['p95'])} ms",
                    f"bare SQL {fmt(r['base_p50'])} / {fmt(r['base_p95'])} ms",
                    f"{r['p95'] / max(r['base_p95'], 1e-9):.1f}×",
                    "p95 ≤ 2× bare + 10 ms",
                    verdict(r["p95"] <= limit, f"{r['p95'] - limit:+.1f} ms over {limit:.1f}"),
                )
            elif "value" in r:
                table.add(label, "", f"{fmt(r['value'])} MiB")
            elif label.startswith("dashboard KPI"):
                table.add(
                    label,
                    f"{fmt(r['p50'])} ms",
                    f"{fmt(r['p95'])} ms",
                    "",
                    "",
                    "p95 ≤ 50 ms",
                    verdict(r["p95"] <= 50, f"{r['p95'] / 50:.1f}× the target"),
                )
            else:
                table.add(label, f"{fmt(r['p50'])} ms", f"{fmt(r['p95'])} ms")

    save(generation, "the search benchmark")

    # 3. search
    if "search" not in skip:
        out = sh(
            [py, "bench/bench_search.py", "--contacts", str(scale["contacts"]),
             "--queries", str(n * 3)],
            env, log,
        )  # fmt: skip
        searched = parse_search(out)
        if not searched:
            table.add("typeahead: bench_search.py's output not understood (see the log)")
        for kind, v in searched.items():
            if len(v) < 8:
                continue
            personas = [("admin", v[2], v[3]), ("team member who sees nothing", v[4], v[5])]
            if len(v) >= 10:
                personas.append(("typical rep", v[8], v[9]))
            for who, p50, p95 in personas:
                table.add(
                    f"typeahead ({kind}), search service as {who}",
                    f"{fmt(p50)} ms",
                    f"{fmt(p95)} ms",
                    f"bare index query {fmt(v[0])} / {fmt(v[1])} ms",
                    f"{p95 / max(v[1], 1e-9):.1f}×",
                    "p95 ≤ 30 ms",
                    verdict(p95 <= 30, f"{p95 - 30:+.0f} ms"),
                )
            table.add(f"typeahead ({kind}), GET /api/search", f"{fmt(v[6])} ms", f"{fmt(v[7])} ms")

    save(generation, "the import benchmark")

    # 4. import
    if "import" not in skip:
        import_args = [py, "bench/bench_import.py", "--rows", str(scale["import"])]
        import_env = dict(env)
        import_env.pop("DATABASE_URL")
        if vendor == "postgresql":
            parts = urlsplit(url)
            import_url = urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_import"))
            _create_pg_database(url, parts.path.strip("/") + "_import")
            import_args += ["--database-url", import_url]
        die = Path(args.die_site)
        if (die / "import_export").is_dir():
            import_env["PYTHONPATH"] = os.pathsep.join(
                filter(None, [import_env.get("PYTHONPATH", ""), str(die)])
            )
            import_args.append("--die")
        with tempfile.TemporaryDirectory():
            out = sh(import_args, import_env, log)
        rates, rss = parse_import(out)
        if not rates:
            table.add("import: bench_import.py's output not understood (see the log)")
        ours = next((v for k, v in rates.items() if k.startswith("Rapport import")), None)
        # Issue 17: the baseline is the raw COPY (executemany) of every row the import writes
        # into the same tables (and, through them, the search index); the contacts table
        # alone is kept as an informative row.
        base = next((v for k, v in rates.items() if k.startswith("baseline")), None)
        one_table = next((v for k, v in rates.items() if "accounts_contact alone" in k), None)
        die_rate = next((v for k, v in rates.items() if k.startswith("django-import-export")), None)
        raw = "COPY" if vendor == "postgresql" else "executemany"
        if ours:
            # Issue 17's criterion: half the raw rate of the same writes. The first performance
            # issue's absolute ≥ 10,000 rows/s was set against COPY into the contacts table
            # alone; the raw COPY of everything the import writes runs at ~5,800 rows/s at 1M
            # on this kind of machine, so an absolute rate above it can not be a target.
            ok = bool(base) and ours >= 0.5 * base
            table.add(
                f"import {scale['import']:,} contacts from CSV (validate + match + write)",
                "",
                f"{ours:,.0f} rows/s",
                f"raw {raw} into the same tables {base:,.0f} rows/s" if base else "",
                f"{ours / base:.0%} of {raw}" if base else "",
                f"≥ 50% of {raw} into the same tables",
                verdict(ok),
            )
            table.add(
                "import vs django-import-export (same file)",
                "",
                f"{ours:,.0f} rows/s",
                f"django-import-export {die_rate:,.0f} rows/s" if die_rate else "not installed",
                f"{ours / die_rate:.1f}×" if die_rate else "",
                "≥ 20×",
                verdict(ours >= 20 * die_rate) if die_rate else "not measured",
            )
            if one_table:
                table.add(
                    f"import: raw {raw} into the contacts table alone (informative)",
                    "",
                    f"{one_table:,.0f} rows/s",
                    "",
                    f"import = {ours / one_table:.0%} of it",
                )
        for label, v in rates.items():
            if label.startswith(("Rapport dry", "Rapport rerun", "floor")):
                table.add(f"import: {label}", "", f"{v:,.0f} rows/s")
        if "import" in rss:
            table.add("import peak RSS (whole process, during the import)", "",
                      f"{rss['import']:.0f} MiB")  # fmt: skip

    # 5. automation: import with and without one rule, event-to-action latency
    if "automation" not in skip:
        auto_env = dict(env)
        auto_env.pop("DATABASE_URL")
        auto_args = [py, "bench/bench_automation.py", "--rows", str(scale["import"])]
        if vendor == "postgresql":
            parts = urlsplit(url)
            auto_url = urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_automation"))
            _create_pg_database(url, parts.path.strip("/") + "_automation")
            auto_args += ["--database-url", auto_url]
        out = sh(auto_args, auto_env, log)
        values = dict(re.findall(r"^(.+?)\s{2,}([\d.,%]+)\s*$", out, flags=re.M))
        ratio = values.get("ratio with / without (target >= 80 %)")
        p95 = values.get("event-to-action latency p95 (s, target <= 2 s)")
        if ratio and p95:
            r = float(ratio.rstrip("%")) / 100
            table.add(
                f"import {scale['import']:,} contacts with one active rule",
                "",
                f"{values.get('import with one active rule (rows/s)')} rows/s",
                f"without: {values.get('import without a rule (rows/s)')} rows/s",
                ratio,
                "≥ 80%",
                verdict(r >= 0.8),
            )
            table.add(
                "automation event-to-action latency (db_worker running)",
                f"{values.get('event-to-action latency p50 (s)')} s",
                f"{p95} s",
                "",
                "",
                "p95 ≤ 2 s",
                verdict(float(p95) <= 2),
            )
        else:
            table.add("automation: bench_automation.py's output not understood (see the log)")

    save(generation, "")
    print("\n" + Path(args.out).read_text().split("\n## Earlier run")[0])
    print(f"written: {args.out}; the scripts' output: {log}")


def _earlier_runs(path: Path, keep: int = 3) -> str:
    """The previous results (other scales and databases), newest first, under the new one."""
    if not path.exists():
        return ""
    old = path.read_text()
    runs = [
        r.strip() for r in re.split(r"^## Earlier run\n|^# Benchmark results\n", old, flags=re.M)
    ]
    runs = [r for r in runs if r][:keep]
    return "".join(f"\n## Earlier run\n\n{r}\n" for r in runs)


def _create_pg_database(url: str, name: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


if __name__ == "__main__":
    main()
