"""An order file's external ids are the importer's key (rapport/records/external_ids.py):
another person's order with the same id is neither matched, updated, refused over nor
mentioned, so the other team's import can still use its ids."""

import pytest

from rapport.accounts.services import account_create
from rapport.imports.tests.conftest import csv_bytes
from rapport.orders.models import Order

pytestmark = pytest.mark.django_db


def _order(account_id, external_id):
    return {
        "account_id": account_id,
        "external_id": external_id,
        "ordered_at": "2026-01-05T10:00:00+00:00",
        "lines": [{"description": "x", "quantity": "1", "unit_price": "1"}],
    }


@pytest.fixture
def accounts(personas):
    mine = account_create(actor=personas.owner, fields={"name": "Mine"})
    theirs = account_create(actor=personas.outsider, fields={"name": "Theirs"})
    return mine, theirs


def test_the_other_teams_import_can_still_use_its_ids(personas, api_as, accounts, upload, run):
    mine, theirs = accounts
    squatted = api_as(personas.owner).post("/api/orders", _order(mine.pk, "SHOP-100"))
    assert squatted.status_code == 201
    data = csv_bytes(
        [
            ["Order", "Date", "Account", "Description", "Qty", "Price"],
            ["SHOP-100", "2026-01-05", "Theirs", "Widget", "2", "5"],
        ]
    )
    job = run(upload(personas.outsider, data, object_type="orders", name="orders.csv"))
    assert (job.status, job.created, job.failed, job.error) == ("done", 1, 0, "")
    theirs_order = Order.objects.get(external_id="SHOP-100", created_by=personas.outsider)
    assert (theirs_order.account_id, str(theirs_order.total)) == (theirs.pk, "10.00")
    mine_order = Order.objects.get(pk=squatted.data["id"])
    assert (mine_order.account_id, str(mine_order.total)) == (mine.pk, "1.00")
    # The same file again: the importer's own order is matched (updated/unchanged), no new one.
    job = run(upload(personas.outsider, data, object_type="orders", name="orders.csv"))
    assert (job.created, job.unchanged, job.failed) == (0, 1, 0)
    assert Order.objects.filter(external_id="SHOP-100").count() == 2
