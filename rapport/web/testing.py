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


def csv_rows(response) -> list[list[str]]:
    import csv
    import io

    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def field_error(response, text: str) -> bool:
    """Whether the page shows `text` as a field error (next to a field, not only on top)."""
    pattern = r'class="field-error"[^>]*>[^<]*' + re.escape(text)
    return re.search(pattern, text_of(response)) is not None
