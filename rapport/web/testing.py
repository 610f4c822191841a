"""Helpers for the web UI's tests (the next pages' tests use them too)."""

import re

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from rapport.identity.models import User

HTMX = {"HX-Request": "true"}


def ui_client(user: User | None = None) -> Client:
    """A test client signed in as `user` (anonymous for None)."""
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def text_of(response) -> str:
    return response.content.decode()


def count_queries(fn) -> int:
    """How many SQL queries `fn()` runs (for "same count for 3 and 20 rows" tests)."""
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def query_plan(qs) -> str:
    """The database's plan for `qs` (PostgreSQL with sequential scans discouraged, so a usable
    index shows even on a tiny table; SQLite's EXPLAIN QUERY PLAN), for "uses the index"
    tests."""
    sql, params = qs.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row) for row in cursor.fetchall())


def csv_rows(response) -> list[list[str]]:
    import csv
    import io

    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def field_error(response, text: str) -> bool:
    """Whether the page shows `text` as a field error (next to a field, not only on top)."""
    pattern = r'class="field-error"[^>]*>[^<]*' + re.escape(text)
    return re.search(pattern, text_of(response)) is not None


def probe_fresh_process(path: str, headers: dict | None = None, **env) -> dict:
    """GET `path` with Django's test client in a new interpreter started with `env` (for
    settings read from the environment at start-up: DEBUG, HTTPS, RAPPORT_DEV). Returns the
    status, the response headers and the body's first 20,000 characters."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import json, sys, django\n"
        "django.setup()\n"
        "from django.test import Client\n"
        "path, headers = json.loads(sys.argv[1])\n"
        "r = Client().get(path, headers=headers)\n"
        "body = b''.join(r.streaming_content) if r.streaming else r.content\n"
        "print(json.dumps({'status': r.status_code, 'headers': dict(r.headers),"
        " 'body': body.decode(errors='replace')[:20000]}))\n"
    )
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "rapport.settings",
        "DATABASE_URL": "sqlite:///:memory:",
        "DEBUG": "0",
        **env,
    }
    for name in ("RAPPORT_DEV", "SECRET_KEY", "HTTPS"):
        if name not in env:
            environment.pop(name, None)
    out = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", code, json.dumps([path, headers or {}])],
        cwd=Path(__file__).resolve().parents[2],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])
