"""Fixtures of the automation tests: rules made through the service, and `worker()` which
plays the worker (dispatch the committed outbox, execute due runs)."""

import pytest

from rapport.automation import engine, services
from rapport.automation.models import Run
from rapport.imports.tests.conftest import import_dir, run, upload  # noqa: F401


@pytest.fixture
def make_rule(personas):
    def make(**data):
        data.setdefault("name", "Rule")
        data.setdefault("trigger_type", "record.created")
        data.setdefault("object_type", "contact")
        data.setdefault("actions", [{"type": "add_tag", "params": {"tag": "auto"}}])
        return services.rule_create(actor=personas.admin, data=data)

    return make


def drain() -> list[Run]:
    """What the worker does after commit: dispatch the outbox, then run every due run."""
    for _ in range(10):  # runs whose actions trigger further rules
        created = engine.dispatch_pending()
        executed = engine.execute_due_runs()
        if not created and not executed:
            break
    return list(Run.objects.order_by("id"))


@pytest.fixture
def worker():
    return drain
