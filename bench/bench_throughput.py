"""Benchmark: throughput of `rapport serve --workers 4` (gunicorn) under 16 concurrent
clients, on the data already in the database of DATABASE_URL.

Each client is a thread with its own API token (half the clients the admin, half a sales
rep who owns records) that sends, for `--seconds`, a mix of
  - 70% reads: the contacts list's first page, a contact, an account, the accounts list;
  - 20% search: `/api/search?q=<2–4 letters of a last name>&types=contact`;
  - 10% writes: `PATCH /api/contacts/<id>` with `If-Match` (each client edits its own
    contacts, so a 412 would be a bug, not a race between clients).
Reported: requests/s, p50/p95/p99 (ms), errors (any status other than 200, or a failed
connection), the workers' peak RSS (sum and largest), and CPU per request: the workers'
user+system seconds and their PostgreSQL backends' (read from /proc: the server and the
database run on this machine), which the load of a shared machine does not inflate the way
it inflates wall time.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rapport_x python bench/bench_throughput.py
    # the server's code from another checkout (a before/after on the same data):
    ... python bench/bench_throughput.py --app-dir /tmp/main-copy
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")
os.environ.setdefault("RAPPORT_DEV", "1")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from rapport.accounts.models import Account, Contact  # noqa: E402
from rapport.identity.models import Role, User  # noqa: E402
from rapport.identity.services import api_token_create  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK  # utime, stime
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


def rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:
        return []


def db_backends() -> list[int]:
    """The PostgreSQL backends connected to this database, other than ours."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return [pid for (pid,) in cursor.fetchall()]


class Client(threading.Thread):
    def __init__(self, port, token, contacts, accounts, words, seed, stop, results):
        super().__init__(daemon=True)
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}"}
        self.contacts = contacts  # {id: version}: this client's own contacts
        self.accounts = accounts
        self.words = words
        self.random = random.Random(seed)
        self.stop = stop
        self.results = results  # list of (kind, ms, ok)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method, path, body=None, headers=None):
        try:
            self.conn.request(method, path, body=body, headers={**self.headers, **(headers or {})})
            response = self.conn.getresponse()
            data = response.read()
            if response.getheader("Connection", "").lower() == "close":
                self.conn.close()
            return response.status, response, data
        except (OSError, http.client.HTTPException):
            self.conn.close()
            return 0, None, b""

    def one(self):
        r = self.random.random()
        if r < 0.70:
            kind = "read"
            choice = self.random.random()
            if choice < 0.4:
                path = "/api/contacts?limit=25"
            elif choice < 0.7:
                path = f"/api/contacts/{self.random.choice(list(self.contacts))}"
            elif choice < 0.9:
                path = f"/api/accounts/{self.random.choice(self.accounts)}"
            else:
                path = "/api/accounts?limit=25"
            status, _, _ = self.call("GET", path)
            ok = status == 200
        elif r < 0.90:
            kind = "search"
            word = self.random.choice(self.words)
            q = word[: self.random.randint(2, 4)]
            status, _, _ = self.call("GET", f"/api/search?q={q}&types=contact&limit=10")
            ok = status == 200
        else:
            kind = "write"
            pk = self.random.choice(list(self.contacts))
            body = json.dumps({"title": f"Bench {self.random.randint(1, 10**6)}"})
            status, response, _ = self.call(
                "PATCH",
                f"/api/contacts/{pk}",
                body=body,
                headers={"Content-Type": "application/json", "If-Match": f'"{self.contacts[pk]}"'},
            )
            ok = status == 200
            if ok:
                self.contacts[pk] = int(response.getheader("ETag").strip('W/"'))
        return kind, ok, status

    def run(self):
        while not self.stop.is_set():
            start = time.perf_counter()
            kind, ok, status = self.one()
            self.results.append((kind, (time.perf_counter() - start) * 1000, ok, status))


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else 0.0


def personas() -> tuple[User, User]:
    """The first active admin and the first active sales rep (not a bench-made user): the
    users of this bench's requests, and of bench_api_cpu.py's."""
    admin = User.objects.filter(role=Role.ADMIN, is_active=True).order_by("id").first()
    rep = (
        User.objects.filter(role=Role.SALES_REP, is_active=True)
        .exclude(username__startswith="bench-")
        .order_by("id")
        .first()
    )
    return admin, rep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--port", type=int, default=8499)
    parser.add_argument("--app-dir", default=str(ROOT), help="the checkout the server runs")
    parser.add_argument("--json", default=None)
    parser.add_argument("--server-log", default=os.devnull, help="gunicorn's output")
    args = parser.parse_args()
    assert connection.vendor == "postgresql", "the throughput row is measured on PostgreSQL"

    admin, rep = personas()
    rep_contacts = list(
        Contact.objects.filter(owner=rep)
        .order_by("-id")
        .values_list("pk", "version")[: 8 * args.clients]
    )
    other_contacts = list(
        Contact.objects.exclude(owner=rep)
        .order_by("-id")
        .values_list("pk", "version")[: 8 * args.clients]
    )
    # Each persona reads accounts it may see (a 404 for the rep would count as an error).
    accounts = {
        admin.pk: list(Account.objects.order_by("-id").values_list("pk", flat=True)[:500]),
        rep.pk: list(
            Account.objects.filter(owner=rep).order_by("-id").values_list("pk", flat=True)[:500]
        ),
    }
    words = [
        w
        for w in Contact.objects.order_by("-id").values_list("last_name", flat=True)[:200]
        if len(w) >= 4
    ]
    tokens = {u.pk: api_token_create(user=u, name="bench-throughput")[1] for u in (admin, rep)}

    env = {
        **os.environ,
        "BIND": f"127.0.0.1:{args.port}",
        "SECRET_KEY": "bench-throughput-not-secret",
        "PYTHONPATH": args.app_dir,
        "RAPPORT_DEV": "0",
        "DEBUG": "0",
        # A worker's first requests import and build the API: on a loaded machine that
        # took longer than gunicorn's default 30 s timeout, which killed the workers in a loop.
        "GUNICORN_CMD_ARGS": os.environ.get("GUNICORN_CMD_ARGS", "--timeout 300"),
    }
    log = open(args.server_log, "wb")  # noqa: SIM115 - closed with the server
    server = subprocess.Popen(  # noqa: S603
        [str(Path(sys.executable).parent / "rapport"), "serve", "--workers", str(args.workers)],
        cwd=args.app_dir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        probe = http.client.HTTPConnection("127.0.0.1", args.port, timeout=5)
        for _ in range(600):
            try:
                probe.request(
                    "GET",
                    "/api/contacts?limit=1",
                    headers={"Authorization": f"Bearer {tokens[admin.pk]}"},
                )
                if probe.getresponse().status == 200:
                    break
            except OSError:
                probe.close()
            time.sleep(0.5)
        else:
            raise SystemExit("the server did not answer")
        stop = threading.Event()
        results: list = []
        clients = []
        for i in range(args.clients):
            user, pool = (admin, other_contacts) if i % 2 == 0 else (rep, rep_contacts)
            mine = dict(pool[i // 2 :: (args.clients + 1) // 2])
            clients.append(
                Client(args.port, tokens[user.pk], mine, accounts[user.pk], words, i, stop, results)
            )
        for c in clients:
            c.start()
        time.sleep(args.warmup)
        workers = children(server.pid)
        backends = db_backends()
        cpu_w = {p: cpu_seconds(p) for p in workers}
        cpu_b = {p: cpu_seconds(p) for p in backends}
        results.clear()
        peak_sum = peak_one = 0.0
        start = time.perf_counter()
        while time.perf_counter() - start < args.seconds:
            sizes = [rss_mib(p) for p in children(server.pid)]
            peak_sum, peak_one = max(peak_sum, sum(sizes)), max([peak_one, *sizes])
            time.sleep(0.2)
        done = list(results)
        elapsed = time.perf_counter() - start
        worker_cpu = sum(cpu_seconds(p) - cpu_w.get(p, 0) for p in children(server.pid))
        backend_cpu = sum(cpu_seconds(p) - v for p, v in cpu_b.items())
        new_backends = set(db_backends()) - set(cpu_b)
        stop.set()
        for c in clients:
            c.join(timeout=70)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # workers still busy with the clients' last calls
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)
        log.close()

    n = len(done)
    errors = [r for r in done if not r[2]]
    out = {
        "clients": args.clients,
        "workers": args.workers,
        "seconds": round(elapsed, 1),
        "requests": n,
        "requests_per_s": n / elapsed,
        "p50": pct([r[1] for r in done], 0.50),
        "p95": pct([r[1] for r in done], 0.95),
        "p99": pct([r[1] for r in done], 0.99),
        "errors": len(errors),
        "error_statuses": sorted({r[3] for r in errors}),
        "workers_peak_rss_mib_sum": peak_sum,
        "worker_peak_rss_mib": peak_one,
        "worker_cpu_ms_per_request": worker_cpu * 1000 / max(n, 1),
        "db_backend_cpu_ms_per_request": backend_cpu * 1000 / max(n, 1),
        "db_backends_opened_during_run": len(new_backends),
    }
    for kind in ("read", "search", "write"):
        times = [r[1] for r in done if r[0] == kind]
        out[f"{kind}_n"] = len(times)
        out[f"{kind}_p50"] = pct(times, 0.5)
        out[f"{kind}_p95"] = pct(times, 0.95)
    print(f"# throughput on {connection.settings_dict['NAME']}, server code {args.app_dir}")
    for key, value in out.items():
        print(f"{key:<34} {value:.1f}" if isinstance(value, float) else f"{key:<34} {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
