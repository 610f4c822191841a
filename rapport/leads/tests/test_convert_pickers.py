"""The conversion dialog links existing accounts and contacts through record pickers (the
search service, visible records only), never a drop-down of every record."""

import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.conftest import sign_in
from rapport.leads.models import Lead, LeadStatus
from rapport.leads.services import lead_create
from rapport.web.testing import field_error, text_of, ui_client

pytestmark = pytest.mark.django_db


def _post(client, lead, **data):
    payload = {"owner": lead.owner_id, "version": lead.version, "pipeline": "", "stage": ""}
    return client.post(f"/leads/{lead.pk}/convert", {**payload, **data})


def test_dialog_has_pickers_and_no_list_of_every_record(personas, make_lead):
    for i in range(30):
        account_create(actor=personas.owner, fields={"name": f"Filler {i:02d}"})
        contact_create(actor=personas.owner, fields={"last_name": f"Person {i:02d}"})
    account_create(actor=personas.owner, fields={"name": "Acme Holdings"})
    lead = make_lead(company="Acme")
    page = text_of(ui_client(personas.owner).get(f"/leads/{lead.pk}/convert"))
    assert '<select name="account"' not in page and '<select name="contact"' not in page
    assert 'name="account_record__q"' in page and 'name="contact_record__q"' in page
    assert "Filler 07" not in page and "Person 07" not in page
    assert "Acme Holdings" in page  # like the company, offered under the picker
    assert 'value="existing"' in page


def test_existing_account_and_contact_chosen_with_the_pickers(personas, make_lead):
    account = account_create(actor=personas.owner, fields={"name": "Existing Co"})
    contact = contact_create(actor=personas.owner, fields={"last_name": "Known"})
    lead = make_lead()
    r = _post(
        ui_client(personas.owner),
        lead,
        account="existing",
        account_record=account.pk,
        contact="existing",
        contact_record=contact.pk,
    )
    assert r.status_code == 302, text_of(r)
    lead.refresh_from_db()
    assert (lead.converted_account, lead.converted_contact) == (account, contact)


def test_typed_name_finds_the_account_without_javascript(personas, make_lead):
    account = account_create(actor=personas.owner, fields={"name": "Globex Corporation"})
    lead = make_lead()
    r = _post(
        ui_client(personas.owner),
        lead,
        account="existing",
        account_record__q="Globex Corporation",
        contact="new",
    )
    assert r.status_code == 302, text_of(r)
    lead.refresh_from_db()
    assert lead.converted_account == account


def test_existing_without_a_record_is_an_error_next_to_the_picker(personas, make_lead):
    lead = make_lead()
    r = _post(ui_client(personas.owner), lead, account="existing", contact="new")
    assert r.status_code == 422
    assert field_error(r, "Choose the existing account, or create a new one")
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW


def test_picker_refuses_an_account_the_user_cannot_see(personas, make_lead):
    secret = account_create(actor=personas.outsider, fields={"name": "Secret"})
    lead = make_lead()
    r = _post(
        ui_client(personas.owner),
        lead,
        account="existing",
        account_record=secret.pk,
        contact="new",
    )
    assert r.status_code == 422
    assert field_error(r, "No such account")
    assert not Lead.objects.filter(status=LeadStatus.CONVERTED).exists()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_convert_dialog_links_an_account_found_with_the_picker(page, personas, screenshot):
    account = account_create(actor=personas.owner, fields={"name": "Maple Leaf Traders"})
    lead = lead_create(
        actor=personas.owner, fields={"last_name": "Doe", "first_name": "Jane", "company": "Init"}
    )
    sign_in(page, personas.owner)
    page.goto(f"/leads/{lead.pk}/")
    page.get_by_role("link", name="Convert").first.click()
    dialog = page.locator("dialog#convert-dialog")
    dialog.wait_for()
    dialog.locator("input[name=account_record__q]").fill("maple")
    option = dialog.locator("[data-pick-id]").first
    option.wait_for()
    assert "Maple Leaf Traders" in option.inner_text()
    option.click()
    assert dialog.locator("input[name=account][value=existing]").is_checked()
    screenshot(page, "lead-convert-picker")
    dialog.get_by_role("button", name="Convert").click()
    page.wait_for_url(f"**/leads/{lead.pk}/")
    page.locator(".event-summary", has_text="converted into account Maple Leaf Traders").wait_for()
    lead.refresh_from_db()
    assert lead.converted_account_id == account.pk
    assert page.errors == []
