"""Exports: only visible records, the list's filters, neutralised formulas, CSV streamed
and XLSX readable, no N+1, and an export imports back unchanged."""

import csv
import datetime
import io
from decimal import Decimal

import openpyxl
import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.activities.models import Activity
from rapport.imports.tests import conftest as import_fixtures
from rapport.orders.models import Order, OrderLine
from rapport.records.export import cell_safe, csv_lines, formula_like, xlsx_response
from rapport.sales.models import Product

# The import fixtures (upload, run, a temporary import directory) for the round-trip test.
import_dir = import_fixtures.import_dir
upload = import_fixtures.upload
run = import_fixtures.run


def _get(api_as, user, path, **params):
    client = api_as(user)
    return client.client.get(path, params, headers=client.headers)


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.content[:300]
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def _xlsx(response) -> list[list]:
    assert response.status_code == 200
    data = b"".join(response.streaming_content)
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]


FORMULA_LIKE = [
    "=1+1",
    "+cmd",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\tplain",
    "\r=1",
    "\n=1",
    "\nplain",
    " =1+1",
    "   @x",
    "\u3000=1",
    "＝1+1",
    "＋cmd",
    "－2+3",
    "＠SUM(A1)",
    "﹦1",
    "+44 20 7946 0958",
]
NOT_FORMULAS = [
    "+49305550999",
    "+442079460958",
    "-5",
    "+1.5",
    "-1,234.50",
    "1e5",
    "a=1",
    "hello",
    "  hello",
    "",
    "Müller",
]


@pytest.mark.parametrize("text", FORMULA_LIKE)
def test_formula_like_text_gets_a_quote_in_csv(text):
    """Issue 16 item 18: LF, a space before =, full-width ＝ were missed."""
    assert formula_like(text)
    assert cell_safe(text) == "'" + text
    assert "".join(csv_lines(["h"], [[text]])).split("\r\n", 1)[1].lstrip('"').startswith("'")


@pytest.mark.parametrize("text", NOT_FORMULAS)
def test_numbers_phones_and_plain_text_are_written_as_they_are(text):
    """Issue 9 item 17: every phone number came out as '+49305550999."""
    assert not formula_like(text)
    assert cell_safe(text) == text
    assert cell_safe(-5) == -5  # numbers are not text formulas
    assert list(csv.reader(io.StringIO("".join(csv_lines(["h"], [[text]]))[1:])))[1] == [text]


def test_csv_lines_neutralise_every_cell_including_the_header():
    lines = "".join(csv_lines(["=h"], [["@x"], ["-1"], ["+49305550999"], [None]]))
    assert lines == "\ufeff'=h\r\n'@x\r\n-1\r\n+49305550999\r\n\"\"\r\n"


def test_xlsx_writes_strings_as_string_cells_without_added_characters():
    texts = FORMULA_LIKE + NOT_FORMULAS[:-2]
    response = xlsx_response("t.xlsx", ["=header"], [[t] for t in texts] + [[Decimal("-5")]])
    data = b"".join(response.streaming_content)
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    cells = [row[0] for row in sheet.iter_rows()]
    assert (cells[0].value, cells[0].data_type, cells[0].quotePrefix) == ("=header", "s", True)
    for text, cell in zip(texts, cells[1:], strict=False):
        expected = text.replace("\r", "\n") if text.startswith("\r") else text
        assert cell.data_type == "s", (text, cell.data_type)
        assert cell.value in (text, expected), (text, cell.value)
        assert not str(cell.value).startswith("'")
        assert bool(cell.quotePrefix) == formula_like(text), text
    assert (cells[-1].value, cells[-1].data_type) == (-5, "n")
    # No cell of the file is a formula.
    assert b"<f>" not in _sheet_xml(data)


def _sheet_xml(data: bytes) -> bytes:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("xl/worksheets/sheet1.xml")


@pytest.fixture
def contacts(personas):
    acme = account_create(actor=personas.owner, fields={"name": "Acme"})
    mine = contact_create(
        actor=personas.owner,
        fields={"first_name": "=SUM(A1)", "last_name": "Lee", "account": acme, "title": "+cmd"},
        emails=[{"email": "ann@example.org"}],
        phones=[{"number": "+44 20 7946 0958"}],
        tags=["vip"],
    )
    other = contact_create(actor=personas.owner, fields={"last_name": "Ray", "city": "Rome"})
    theirs = contact_create(actor=personas.outsider, fields={"last_name": "Hidden"})
    return mine, other, theirs


def test_contacts_csv_has_only_visible_rows_with_neutralised_cells(personas, api_as, contacts):
    rows = _csv(_get(api_as, personas.owner, "/api/exports/contacts"))
    header, data = rows[0], rows[1:]
    assert header[:8] == [
        "id",
        "first_name",
        "last_name",
        "title",
        "email",
        "phone",
        "account_id",
        "account_name",
    ]
    by_name = {r[header.index("last_name")]: dict(zip(header, r, strict=True)) for r in data}
    assert set(by_name) == {"Lee", "Ray"}
    lee = by_name["Lee"]
    assert (lee["first_name"], lee["title"], lee["phone"]) == (
        "'=SUM(A1)",
        "'+cmd",
        "+442079460958",
    )
    assert (lee["account_name"], lee["owner"], lee["tags"]) == ("Acme", "owner", "vip")
    assert _csv(_get(api_as, personas.outsider, "/api/exports/contacts"))[1:][0][2] == "Hidden"
    assert len(_csv(_get(api_as, personas.reader, "/api/exports/contacts"))) == 1  # header only


def test_exports_take_the_lists_filters_and_sort(personas, api_as, contacts):
    rows = _csv(_get(api_as, personas.owner, "/api/exports/contacts", q="Ray"))
    assert [r[2] for r in rows[1:]] == ["Ray"]
    rows = _csv(_get(api_as, personas.owner, "/api/exports/contacts", tag="vip"))
    assert [r[2] for r in rows[1:]] == ["Lee"]
    rows = _csv(_get(api_as, personas.owner, "/api/exports/contacts", sort="last_name"))
    assert [r[2] for r in rows[1:]] == ["Lee", "Ray"]
    rows = _csv(_get(api_as, personas.owner, "/api/exports/contacts", sort="-last_name"))
    assert [r[2] for r in rows[1:]] == ["Ray", "Lee"]
    assert _get(api_as, personas.owner, "/api/exports/contacts", sort="email").status_code == 400
    assert _get(api_as, personas.owner, "/api/exports/contacts", format="pdf").status_code == 422


def test_xlsx_export_opens_with_openpyxl_and_keeps_formulas_as_text(personas, api_as, contacts):
    response = _get(api_as, personas.owner, "/api/exports/contacts", format="xlsx")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "contacts-" in response["Content-Disposition"]
    rows = _xlsx(response)
    header = rows[0]
    lee = next(dict(zip(header, r, strict=True)) for r in rows[1:] if r[2] == "Lee")
    assert (lee["first_name"], lee["title"], lee["phone"]) == ("=SUM(A1)", "+cmd", "+442079460958")
    assert isinstance(lee["created_at"], datetime.datetime)
    assert len(rows) == 3


def test_anonymous_users_cannot_export(api_as, db):
    assert _get(api_as, None, "/api/exports/contacts").status_code == 401


def test_export_queries_do_not_grow_with_rows(personas, api_as, django_assert_max_num_queries):
    acme = account_create(actor=personas.owner, fields={"name": "Acme"})
    for i in range(30):
        contact_create(
            actor=personas.owner, fields={"last_name": f"N{i}", "account": acme}, tags=[f"t{i}"]
        )
    with django_assert_max_num_queries(12):
        rows = _csv(_get(api_as, personas.owner, "/api/exports/contacts"))
    assert len(rows) == 31


def test_accounts_leads_opportunities_and_activities_export(personas, api_as):
    from rapport.leads.services import lead_create
    from rapport.sales.services import opportunity_create

    acme = account_create(actor=personas.owner, fields={"name": "Acme", "industry": "Retail"})
    account_create(actor=personas.outsider, fields={"name": "Secret"})
    lead_create(actor=personas.owner, fields={"last_name": "Kay", "company": "-Co"})
    opportunity_create(actor=personas.owner, fields={"name": "Deal", "account": acme})
    Activity.objects.create(
        kind="note",
        subject="@hello",
        owner=personas.owner,
        account=acme,
        occurred_at=datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC),
    )
    accounts = _csv(_get(api_as, personas.owner, "/api/exports/accounts"))
    assert [r[1] for r in accounts[1:]] == ["Acme"]
    leads = _csv(_get(api_as, personas.owner, "/api/exports/leads", format="csv"))
    assert dict(zip(leads[0], leads[1], strict=True))["company"] == "'-Co"
    opportunities = _csv(_get(api_as, personas.owner, "/api/exports/opportunities"))
    deal = dict(zip(opportunities[0], opportunities[1], strict=True))
    assert (deal["account_name"], deal["stage"]) == ("Acme", "Prospecting")
    activities = _csv(_get(api_as, personas.owner, "/api/exports/activities"))
    assert dict(zip(activities[0], activities[1], strict=True))["subject"] == "'@hello"
    assert len(_csv(_get(api_as, personas.outsider, "/api/exports/activities"))) == 1


def test_orders_export_one_row_per_line_and_only_visible_customers(personas, api_as):
    acme = account_create(actor=personas.owner, fields={"name": "Acme"})
    secret = account_create(actor=personas.outsider, fields={"name": "Secret"})
    widget = Product.objects.create(sku="W-1", name="Widget")
    when = datetime.datetime(2025, 3, 1, tzinfo=datetime.UTC)
    order = Order.objects.create(external_id="A-1", account=acme, ordered_at=when, total=25)
    OrderLine.objects.create(
        order=order, product=widget, description="Widget", unit_price=10, quantity=2
    )
    OrderLine.objects.create(order=order, description="Fee", unit_price=5, quantity=1)
    Order.objects.create(external_id="S-1", account=secret, ordered_at=when, total=1)
    rows = _csv(_get(api_as, personas.owner, "/api/exports/orders"))
    header = rows[0]
    lines = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    assert [(r["external_id"], r["product_sku"], r["quantity"]) for r in lines] == [
        ("A-1", "W-1", "2.00"),
        ("A-1", "", "1.00"),
    ]
    assert lines[0]["account_name"] == "Acme"


def test_an_exported_file_imports_back_without_changes(personas, api_as, contacts, upload, run):
    rows = _csv(_get(api_as, personas.owner, "/api/exports/contacts", tag="vip"))
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    job = run(upload(personas.owner, out.getvalue().encode()))
    assert job.status == "done", job.error
    assert job.mapping["email"] == "email" and job.mapping["account_name"] == "account"
    assert (job.created, job.updated, job.unchanged, job.failed) == (0, 0, 1, 0)
    mine = contacts[0]
    mine.refresh_from_db()
    assert (mine.first_name, mine.phone, mine.version) == ("=SUM(A1)", "+442079460958", 1)


def test_formula_like_and_phone_cells_import_back_unchanged(personas, api_as, upload, run):
    odd = contact_create(
        actor=personas.owner,
        fields={"first_name": "＝SUM(A1)", "last_name": "Odd", "title": "-2+3"},
        emails=[{"email": "odd@example.org"}],
        phones=[{"number": "+49 30 5550999"}],
    )
    rows = _csv(_get(api_as, personas.owner, "/api/exports/contacts"))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["first_name"], row["title"], row["phone"]) == (
        "'＝SUM(A1)",
        "'-2+3",
        "+49305550999",
    )
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    job = run(upload(personas.owner, out.getvalue().encode()))
    assert job.status == "done", job.error
    assert (job.created, job.updated, job.unchanged, job.failed) == (0, 0, 1, 0)
    odd.refresh_from_db()
    assert (odd.first_name, odd.title, odd.phone, odd.version) == (
        "＝SUM(A1)",
        "-2+3",
        "+49305550999",
        1,
    )


def test_xlsx_refuses_more_rows_than_a_sheet_holds(monkeypatch, personas, api_as, contacts):
    from rapport.records import export

    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 2)
    response = _get(api_as, personas.owner, "/api/exports/contacts", format="xlsx")
    assert (response.status_code, response.json()["code"]) == (422, "too_many_rows")


def test_decimal_and_dates_are_written_plainly():
    lines = "".join(csv_lines(["a", "b"], [[Decimal("1.50"), datetime.date(2025, 1, 2)]]))
    assert lines.endswith("1.50,2025-01-02\r\n")
