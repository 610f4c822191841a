"""List-page exports from the web UI: CSV and XLSX of the current filter, written by
rapport.records.export (formulas neutralised), only the records the user sees; and the
list pages' Import and Export actions."""

import io

import openpyxl
import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.web.testing import csv_rows, text_of, ui_client


@pytest.fixture
def accounts(personas):
    account_create(
        actor=personas.owner,
        fields={"name": '=HYPERLINK("http://x")', "industry": "+1"},
        tags=["vip"],
    )
    account_create(actor=personas.owner, fields={"name": "Plain", "industry": "Retail"})
    account_create(actor=personas.outsider, fields={"name": "Hidden Inc"})


def _sheet(response) -> list[list]:
    assert response["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    body = b"".join(response.streaming_content)
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_csv_export_neutralises_formulas_and_leaves_out_invisible_records(personas, accounts):
    response = ui_client(personas.owner).get("/accounts/export.csv?sort=name")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = csv_rows(response)
    assert rows[0][:3] == ["ID", "Name", "Industry"]
    # "+1" is only a number: no quote (issue 9 item 17).
    assert [r[1:3] for r in rows[1:]] == [['\'=HYPERLINK("http://x")', "+1"], ["Plain", "Retail"]]
    assert "Hidden Inc" not in str(rows)


def test_xlsx_export_keeps_the_filter_stores_text_not_formulas_and_hides_the_invisible(
    personas, accounts
):
    response = ui_client(personas.owner).get("/accounts/export.csv?tag=vip&format=xlsx")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="accounts-')
    assert '.xlsx"' in response["Content-Disposition"]
    rows = _sheet(response)
    assert rows[0][:3] == ["ID", "Name", "Industry"]
    # String cells, never formulas, with nothing added (issue 9 item 17).
    assert [r[1:3] for r in rows[1:]] == [['=HYPERLINK("http://x")', "+1"]]
    assert isinstance(rows[1][0], int)  # numbers stay numbers


def test_xlsx_export_of_every_visible_record(personas, accounts):
    rows = _sheet(ui_client(personas.owner).get("/accounts/export.csv?format=xlsx&sort=name"))
    assert [r[1] for r in rows[1:]] == ['=HYPERLINK("http://x")', "Plain"]
    # The outsider sees only their own.
    rows = _sheet(ui_client(personas.outsider).get("/accounts/export.csv?format=xlsx"))
    assert [r[1] for r in rows[1:]] == ["Hidden Inc"]


def test_contact_export_to_xlsx_has_the_list_columns(personas):
    contact_create(actor=personas.owner, fields={"first_name": "@Ann", "last_name": "Lee"})
    contact_create(actor=personas.outsider, fields={"first_name": "Zed", "last_name": "Far"})
    rows = _sheet(ui_client(personas.owner).get("/contacts/export.csv?format=xlsx"))
    assert len(rows) == 2 and "Far" not in str(rows)
    assert rows[1][1] == "@Ann Lee"


def test_list_pages_offer_import_and_both_export_formats_with_the_filter(personas, accounts):
    page = text_of(ui_client(personas.owner).get("/accounts/?tag=vip"))
    assert 'href="/imports/new?object_type=account">Import</a>' in page
    assert 'href="/accounts/export.csv?tag=vip" download>CSV' in page
    assert 'href="/accounts/export.csv?tag=vip&amp;format=xlsx" download>Excel .xlsx' in page
    for url, kind, user in (
        ("/contacts/", "contact", personas.owner),
        ("/leads/", "lead", personas.owner),
        ("/opportunities/", "opportunity", personas.owner),
        ("/products/", "product", personas.manager),  # the catalog is the managers'
        ("/orders/", "order", personas.owner),
    ):
        page = text_of(ui_client(user).get(url))
        assert f'href="/imports/new?object_type={kind}">Import</a>' in page, url
        assert "format=xlsx" in page, url
    activities = text_of(ui_client(personas.owner).get("/activities/all/"))
    assert "format=xlsx" in activities and "/imports/new" not in activities
    # A rep may not change the catalog, so is not offered its import; read-only users export
    # but do not import.
    products = text_of(ui_client(personas.owner).get("/products/"))
    assert "/imports/new" not in products and "format=xlsx" in products
    reader_page = text_of(ui_client(personas.reader).get("/accounts/"))
    assert "/imports/new" not in reader_page and "format=xlsx" in reader_page
