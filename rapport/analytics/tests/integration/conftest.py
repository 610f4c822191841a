"""Fixtures of the Django-side analytics tests (warehouse, scores, API)."""

from rapport.analytics.tests.integration.warehouse_fixtures import (  # noqa: F401
    known_base,
    products,
    today,
    warehouse_file,
)
