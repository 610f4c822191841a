"""The conversion dialog: choose or create the account and contact, optionally an
opportunity; errors shown next to the field or on top; links to the new records after."""

import pytest

from rapport.accounts.models import Account, Contact
from rapport.accounts.services import account_create, contact_create
from rapport.leads.models import Lead, LeadStatus
from rapport.leads.services import lead_convert, lead_update
from rapport.sales.models import Opportunity
from rapport.web.testing import HTMX, field_error, text_of, ui_client

pytestmark = pytest.mark.django_db


def _post(client, lead, **data):
    payload = {
        "account": "new",
        "contact": "new",
        "owner": lead.owner_id,
        "version": lead.version,
        "pipeline": "",
        "stage": "",
        **data,
    }
    return client.post(f"/leads/{lead.pk}/convert", payload)


def test_dialog_offers_new_or_existing_records_and_the_opportunity(personas, make_lead, pipeline):
    account_create(actor=personas.owner, fields={"name": "Acme Holdings"})
    account_create(actor=personas.outsider, fields={"name": "Acme Secret"})
    lead = make_lead(company="Acme")
    page = text_of(ui_client(personas.owner).get(f"/leads/{lead.pk}/convert"))
    assert "Create a new account “Acme”" in page
    assert "Acme Holdings" in page
    assert "Acme Secret" not in page  # only visible accounts are offered
    assert "Create a new contact “Jane Doe”" in page
    assert 'name="create_opportunity"' in page
    assert f'<option value="{pipeline.pk}" selected>Inbound</option>' in page


def test_dialog_as_htmx_fragment_is_a_modal_dialog(personas, make_lead):
    lead = make_lead()
    r = ui_client(personas.owner).get(f"/leads/{lead.pk}/convert", headers=HTMX)
    body = text_of(r)
    assert body.lstrip().startswith('<dialog id="convert-dialog"')
    assert "data-modal" in body
    assert "<html" not in body


def test_convert_creates_account_contact_and_opportunity_and_page_links_them(
    personas, make_lead, pipeline
):
    lead = make_lead(company="Initech", email="jane@initech.example")
    stage = pipeline.stages.get(name="Propose")
    client = ui_client(personas.owner)
    r = _post(
        client,
        lead,
        create_opportunity="on",
        opportunity_name="Initech seats",
        amount="12000",
        currency="usd",
        expected_close_date="2031-03-01",
        pipeline=pipeline.pk,
        stage=stage.pk,
    )
    assert r.status_code == 302
    assert r["Location"] == f"/leads/{lead.pk}/"
    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONVERTED
    opportunity = Opportunity.objects.get()
    assert opportunity.name == "Initech seats"
    assert opportunity.amount == 12000
    assert opportunity.currency == "USD"
    assert opportunity.stage == stage
    assert str(opportunity.expected_close_date) == "2031-03-01"
    assert lead.converted_account.name == "Initech"
    assert lead.converted_contact.account == lead.converted_account
    page = text_of(client.get(r["Location"]))
    assert "converted into account Initech, contact Jane Doe, opportunity Initech seats" in page
    assert f'href="/accounts/{lead.converted_account_id}/">Initech</a>' in page
    assert f'href="/opportunities/{opportunity.pk}/">Initech seats</a>' in page


def test_convert_links_existing_account_and_contact(personas, make_lead):
    account = account_create(actor=personas.owner, fields={"name": "Existing"})
    contact = contact_create(
        actor=personas.owner, fields={"last_name": "Known", "account": account}
    )
    lead = make_lead()
    r = _post(ui_client(personas.owner), lead, account=account.pk, contact=contact.pk)
    assert r.status_code == 302
    lead.refresh_from_db()
    assert lead.converted_account == account
    assert lead.converted_contact == contact
    assert Account.objects.count() == 1
    assert Contact.objects.count() == 1
    assert not Opportunity.objects.exists()


def test_convert_into_an_invisible_account_is_refused_next_to_the_account(personas, make_lead):
    secret = account_create(actor=personas.outsider, fields={"name": "Secret"})
    lead = make_lead()
    r = _post(ui_client(personas.owner), lead, account=secret.pk)
    assert r.status_code == 422
    assert field_error(r, "No such account")
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW


def test_convert_without_company_says_so_next_to_the_account(personas, make_lead):
    lead = make_lead(company="")
    r = _post(ui_client(personas.owner), lead, account="new")
    assert r.status_code == 422
    assert field_error(r, "The lead has no company")
    assert not Contact.objects.exists()


def test_opportunity_stage_of_another_pipeline_is_refused_next_to_the_stage(
    personas, make_lead, pipeline
):
    from rapport.sales.models import Pipeline

    other = Pipeline.objects.get(name="Sales").stages.first()
    lead = make_lead()
    r = _post(
        ui_client(personas.owner),
        lead,
        create_opportunity="on",
        pipeline=pipeline.pk,
        stage=other.pk,
    )
    assert r.status_code == 422
    assert field_error(r, "another pipeline")
    assert not Account.objects.exists()  # all or nothing
    lead.refresh_from_db()
    assert lead.status == LeadStatus.NEW


def test_htmx_errors_come_back_as_the_form_fragment(personas, make_lead):
    lead = make_lead(company="")
    r = ui_client(personas.owner).post(
        f"/leads/{lead.pk}/convert",
        {"account": "new", "contact": "new", "owner": lead.owner_id, "version": lead.version},
        headers=HTMX,
    )
    assert r.status_code == 422
    body = text_of(r)
    assert body.lstrip().startswith("<form")
    assert "The lead has no company" in body


def test_htmx_success_redirects_the_whole_page_to_the_lead(personas, make_lead):
    lead = make_lead()
    r = ui_client(personas.owner).post(
        f"/leads/{lead.pk}/convert",
        {"account": "new", "contact": "new", "owner": lead.owner_id, "version": lead.version},
        headers=HTMX,
    )
    assert r.status_code == 200
    assert r["HX-Redirect"] == f"/leads/{lead.pk}/"


def test_already_converted_lead_shows_a_clear_error(personas, make_lead):
    lead = make_lead()
    opened_at = lead.version
    lead_convert(lead=lead, actor=personas.manager)
    stale = Lead.objects.get(pk=lead.pk)
    stale.version = opened_at
    r = _post(ui_client(personas.owner), stale, account="none", contact="new")
    assert r.status_code == 409
    body = text_of(r)
    # Someone converted it meanwhile: said plainly, with links to what it became.
    assert "This lead is already converted" in body
    contact = Contact.objects.get()
    assert f'href="/contacts/{contact.pk}/"' in body
    assert Contact.objects.count() == 1
    # Opening the dialog of a converted lead says so, with links, and offers no form.
    page = text_of(ui_client(personas.owner).get(f"/leads/{lead.pk}/convert"))
    assert "This lead is already converted" in page
    assert 'name="account"' not in page


def test_stale_version_is_refused_with_the_stale_message(personas, make_lead):
    lead = make_lead()
    opened_at = lead.version
    lead_update(lead=lead, actor=personas.manager, fields={"title": "CEO"})
    lead.version = opened_at
    r = _post(ui_client(personas.owner), lead)
    assert r.status_code == 409
    assert "Someone else changed this record" in text_of(r)
    assert not Account.objects.exists()


def test_disqualified_lead_cannot_be_converted(personas, make_lead):
    lead = make_lead(status="disqualified", disqualified_reason="Spam")
    client = ui_client(personas.owner)
    page = text_of(client.get(f"/leads/{lead.pk}/"))
    assert f'href="/leads/{lead.pk}/convert"' not in page
    r = _post(client, lead)
    assert r.status_code == 409
    assert "disqualified lead cannot be converted" in text_of(r)


def test_nothing_to_convert_is_an_error_on_top(personas, make_lead):
    lead = make_lead()
    r = _post(ui_client(personas.owner), lead, account="none", contact="none")
    assert r.status_code == 422
    assert "A conversion needs an account, a contact or an opportunity" in text_of(r)
