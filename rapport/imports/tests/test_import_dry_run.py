"""A dry run predicts the real run exactly, also when rows of the file match each other
(by email, phone, account name, domain, SKU), and writes nothing."""

import random

import pytest

from rapport.accounts.models import Account, Contact, ContactEmail, ContactPhone
from rapport.accounts.services import contact_create
from rapport.imports.services import runner
from rapport.imports.tests.conftest import csv_bytes
from rapport.leads.models import Lead
from rapport.sales.models import Product
from rapport.timeline.models import TimelineEvent


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    monkeypatch.setattr(runner, "BATCH_SIZE", 40)
    monkeypatch.setattr(runner, "SERVICE_BATCH_SIZE", 15)


def _stored():
    return (
        Contact.all_objects.count(),
        ContactEmail.objects.count(),
        ContactPhone.objects.count(),
        Account.all_objects.count(),
        Lead.all_objects.count(),
        Product.objects.count(),
        TimelineEvent.objects.count(),
        sorted(Contact.all_objects.values_list("pk", "version", "city", "email")),
    )


def _report(job):
    return (
        job.status,
        job.created,
        job.updated,
        job.unchanged,
        job.skipped,
        job.failed,
        job.extra,
        sorted(job.row_errors.values_list("row_number", "field", "code")),
    )


def _dry_then_real(personas, upload, run, data, object_type, user=None, **options):
    user = user or personas.owner
    before = _stored()
    dry = run(upload(user, data, object_type=object_type, dry_run=True, **options))
    assert _stored() == before, "the dry run wrote something"
    real = run(upload(user, data, object_type=object_type, **options))
    assert _report(dry) == _report(real)
    return real


def _messy_people(seed: int, n: int = 260) -> list[list[str]]:
    rnd = random.Random(seed)
    firsts = ["Ann", "Bob", "Eva", "Tom", "Ida", "Lis"]
    lasts = ["Lee", "Ray", "Berg", "Kant", "Moe", ""]
    companies = ["Acme", "Beta GmbH", "Gamma", "Delta", ""]
    switchboards = ["+49 30 901820", "+1 415 555 0100", "+44 20 7946 0958", "", "12"]
    rows = []
    for _ in range(n):
        i = rnd.randrange(40)
        email = rnd.choice(
            [f"p{i}@ex.org", f"P{i}@EX.org", "", "bad@", f"n{rnd.randrange(9)}@x.io"]
        )
        rows.append(
            [
                rnd.choice(firsts),
                rnd.choice(lasts),
                email,
                rnd.choice(switchboards),
                rnd.choice(companies),
                rnd.choice(["Oslo", "Rome", "", "Lima"]),
            ]
        )
    return [["First name", "Last name", "Email", "Phone", "Company", "City"], *rows]


@pytest.mark.parametrize("seed", [1, 2])
def test_contacts_dry_run_counts_equal_the_real_run_on_a_messy_file(personas, upload, run, seed):
    contact_create(
        actor=personas.owner,
        fields={"first_name": "Ann", "last_name": "Lee"},
        emails=[{"email": "p1@ex.org"}],
        phones=[{"number": "+49 30 901820"}],
    )
    real = _dry_then_real(personas, upload, run, csv_bytes(_messy_people(seed)), "contacts")
    assert real.updated > 10 and real.created > 10 and real.failed > 0
    assert real.extra["accounts_created"] == 4  # Acme … Delta, once each


def test_the_reported_case_dry_run_said_0_updated_and_one_account_per_batch(personas, upload, run):
    rows = [["Last name", "Email", "Company", "City"]]
    rows += [[f"L{i % 30}", f"p{i % 30}@ex.org", f"Co{i % 3}", f"C{i}"] for i in range(200)]
    real = _dry_then_real(personas, upload, run, csv_bytes(rows), "contacts")
    assert (real.created, real.updated, real.extra) == (30, 170, {"accounts_created": 3})


@pytest.mark.parametrize("policy", ["update", "skip"])
def test_leads_dry_run_counts_equal_the_real_run(personas, upload, run, policy):
    data = _messy_people(3)
    real = _dry_then_real(personas, upload, run, csv_bytes(data), "leads", policy=policy)
    assert real.created > 10


def test_accounts_dry_run_counts_equal_the_real_run(personas, upload, run):
    rnd = random.Random(4)
    rows = [["Name", "Website", "Industry"]]
    for _ in range(150):
        i = rnd.randrange(25)
        rows.append(
            [
                rnd.choice([f"Firm {i}", f"Firm {i}", ""]),
                rnd.choice([f"firm{i}.com", f"https://www.firm{i}.com/x", "", "http://[x"]),
                rnd.choice(["Retail", "Media", ""]),
            ]
        )
    real = _dry_then_real(personas, upload, run, csv_bytes(rows), "accounts")
    assert real.updated > 10


def test_products_dry_run_counts_equal_the_real_run(personas, upload, run):
    rnd = random.Random(5)
    rows = [["SKU", "Name", "Unit price"]]
    for i in range(60):
        rows.append([f"S{rnd.randrange(12)}", f"Thing {i % 7}", rnd.choice(["9.50", "12", "x"])])
    real = _dry_then_real(personas, upload, run, csv_bytes(rows), "products", personas.manager)
    assert real.updated > 5
