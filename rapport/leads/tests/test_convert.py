"""Lead conversion: the service (all or nothing) and POST /api/leads/{id}/convert."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from rapport.accounts.models import Account, Contact
from rapport.accounts.services import account_create, contact_create
from rapport.activities.models import Activity
from rapport.identity.services import user_create, user_deactivate
from rapport.leads.models import Lead, LeadStatus
from rapport.leads.services import lead_convert, lead_update
from rapport.records.custom_fields import custom_field_define
from rapport.records.exceptions import Conflict, PermissionDenied, RecordNotFound, StaleVersion
from rapport.timeline.models import EventKind, TimelineEvent
from rapport.timeline.selectors import timeline_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(make_lead):
    return make_lead(
        first_name="Jane",
        last_name="Doe",
        title="CTO",
        email="jane@acme.example",
        phone="+1 650 253 0000",
        company="Acme Corp",
        website="https://www.acme.example",
        industry="Tools",
        source="web",
        street="1 Main St",
        city="Springfield",
        postal_code="12345",
        country="US",
    )


def _snapshot():
    """Row counts that a failed conversion must leave untouched."""
    return (
        Account.all_objects.count(),
        Contact.all_objects.count(),
        TimelineEvent.objects.count(),
        list(Activity.objects.values_list("id", "account_id", "contact_id", "opportunity_id")),
        list(Lead.all_objects.values_list("id", "status", "version", "converted_account_id")),
    )


def _call(lead, who, **kwargs):
    return Activity.objects.create(
        kind="call", owner=who, lead=lead, occurred_at=timezone.now(), **kwargs
    )


# ----- service --------------------------------------------------------------------------


def test_convert_creates_account_and_contact_from_the_lead(personas, lead):
    result = lead_convert(lead=lead, actor=personas.owner)
    account, contact = result["account"], result["contact"]
    assert result["opportunity"] is None
    assert (account.name, account.website, account.domain, account.industry) == (
        "Acme Corp",
        "https://www.acme.example",
        "acme.example",
        "Tools",
    )
    assert (account.street, account.city, account.postal_code, account.country) == (
        "1 Main St",
        "Springfield",
        "12345",
        "US",
    )
    contact.refresh_from_db()
    assert (contact.first_name, contact.last_name, contact.title) == ("Jane", "Doe", "CTO")
    assert contact.account == account
    assert (contact.email, contact.phone) == ("jane@acme.example", "+16502530000")
    assert list(contact.emails.values_list("email", "is_primary")) == [("jane@acme.example", True)]
    assert list(contact.phones.values_list("number", flat=True)) == ["+16502530000"]
    assert contact.city == "Springfield"
    assert account.owner == contact.owner == personas.owner
    assert account.team == personas.team_a

    lead.refresh_from_db()
    assert lead.status == LeadStatus.CONVERTED
    assert lead.version == 2
    assert lead.converted_at is not None
    assert lead.converted_by == personas.owner
    assert (lead.converted_account, lead.converted_contact) == (account, contact)
    assert lead.converted_opportunity is None
    assert result["lead"].status == LeadStatus.CONVERTED


def test_conversion_event_shows_once_on_each_timeline(personas, lead):
    result = lead_convert(lead=lead, actor=personas.owner)
    for record in (lead, result["account"], result["contact"]):
        events = list(
            timeline_of(record, user=personas.admin).filter(kind=EventKind.LEAD_CONVERTED)
        )
        assert len(events) == 1, record
        assert events[0].lead_id == lead.pk
        assert events[0].actor == personas.owner
    event = TimelineEvent.objects.get(kind=EventKind.LEAD_CONVERTED)
    assert (event.account_id, event.contact_id) == (result["account"].pk, result["contact"].pk)
    assert event.payload["created"] == ["account", "contact"]
    assert event.payload["changes"]["status"] == {"old": "new", "new": "converted"}
    # The new records have their own `created` events too.
    assert (
        timeline_of(result["contact"], user=personas.admin).filter(kind=EventKind.CREATED).count()
        == 1
    )


def test_convert_moves_the_leads_activities_and_keeps_the_lead_link(personas, lead):
    other = account_create(actor=personas.owner, fields={"name": "Elsewhere"})
    plain = _call(lead, personas.owner)
    already_linked = _call(lead, personas.teammate, account=other)
    unrelated = Activity.objects.create(
        kind="note", owner=personas.owner, occurred_at=timezone.now()
    )
    result = lead_convert(lead=lead, actor=personas.owner)
    plain.refresh_from_db()
    already_linked.refresh_from_db()
    unrelated.refresh_from_db()
    assert plain.lead_id == lead.pk
    assert (plain.account, plain.contact) == (result["account"], result["contact"])
    assert plain.version == 2
    # An account the activity already named stays; the missing contact link is added.
    assert (already_linked.account, already_linked.contact) == (other, result["contact"])
    assert (unrelated.account_id, unrelated.contact_id) == (None, None)
    event = TimelineEvent.objects.get(kind=EventKind.LEAD_CONVERTED)
    assert event.payload["activities_moved"] == 2


def test_convert_links_existing_visible_account_and_contact(personas, lead):
    account = account_create(actor=personas.teammate, fields={"name": "Existing"})
    contact = contact_create(actor=personas.manager, fields={"last_name": "Known"})
    call = _call(lead, personas.owner)
    before = (Account.objects.count(), Contact.objects.count())
    # The manager sees both (teammate's by team, own by ownership) and can edit the lead.
    result = lead_convert(lead=lead, actor=personas.manager, account=account, contact=contact)
    assert (result["account"], result["contact"]) == (account, contact)
    assert (Account.objects.count(), Contact.objects.count()) == before
    call.refresh_from_db()
    assert (call.account, call.contact) == (account, contact)
    assert (
        timeline_of(account, user=personas.admin).filter(kind=EventKind.LEAD_CONVERTED).count() == 1
    )
    lead.refresh_from_db()
    assert lead.converted_by == personas.manager


def test_convert_refuses_an_invisible_account_and_writes_nothing(personas, lead):
    foreign = account_create(actor=personas.outsider, fields={"name": "Foreign"})
    before = _snapshot()
    with pytest.raises(ValidationError) as exc:
        lead_convert(lead=lead, actor=personas.owner, account=foreign)
    assert set(exc.value.error_dict) == {"account_id"}
    assert _snapshot() == before


def test_convert_refuses_an_invisible_contact(personas, lead):
    foreign = contact_create(actor=personas.outsider, fields={"last_name": "Foreign"})
    before = _snapshot()
    with pytest.raises(ValidationError) as exc:
        lead_convert(lead=lead, actor=personas.owner, contact=foreign)
    assert set(exc.value.error_dict) == {"contact_id"}
    assert _snapshot() == before


def test_convert_without_an_account_creates_only_the_contact(personas, lead):
    result = lead_convert(lead=lead, actor=personas.owner, create_account=False)
    assert result["account"] is None
    assert result["contact"].account is None
    assert not Account.objects.exists()


def test_convert_into_nothing_is_refused(personas, lead):
    with pytest.raises(ValidationError) as exc:
        lead_convert(lead=lead, actor=personas.owner, create_account=False, create_contact=False)
    assert exc.value.code == "nothing_to_convert"
    lead.refresh_from_db()
    assert lead.status == "new"


def test_convert_can_override_the_new_records_fields(personas, lead):
    result = lead_convert(
        lead=lead,
        actor=personas.owner,
        account_fields={"name": "Acme Holding"},
        contact_fields={"title": "Chief"},
    )
    assert result["account"].name == "Acme Holding"
    assert result["contact"].title == "Chief"


def test_a_new_account_needs_the_leads_company(personas, make_lead):
    lead = make_lead(company="")
    with pytest.raises(ValidationError) as exc:
        lead_convert(lead=lead, actor=personas.owner)
    assert exc.value.error_dict["account_id"][0].code == "company_required"
    assert not Contact.objects.exists()


def test_nested_errors_name_the_record_that_failed(personas, make_lead):
    lead = make_lead(website="")
    with pytest.raises(ValidationError) as exc:
        lead_convert(lead=lead, actor=personas.owner, account_fields={"website": "no url"})
    assert set(exc.value.error_dict) == {"account.website"}


def test_converting_twice_is_a_conflict_and_writes_nothing(personas, lead):
    lead_convert(lead=lead, actor=personas.owner)
    before = _snapshot()
    stale = Lead.objects.get(pk=lead.pk)
    stale.status = LeadStatus.NEW  # an out-of-date copy must not fool the service
    with pytest.raises(Conflict) as exc:
        lead_convert(lead=stale, actor=personas.owner)
    assert exc.value.code == "lead_converted"
    assert _snapshot() == before


def test_disqualified_lead_cannot_be_converted(personas, make_lead):
    lead = make_lead(status="disqualified", disqualified_reason="Competitor")
    before = _snapshot()
    with pytest.raises(Conflict) as exc:
        lead_convert(lead=lead, actor=personas.owner)
    assert exc.value.code == "lead_disqualified"
    assert _snapshot() == before


def test_stale_expected_version_converts_nothing(personas, lead):
    lead_update(lead=lead, actor=personas.owner, fields={"status": "qualified"})
    before = _snapshot()
    with pytest.raises(StaleVersion):
        lead_convert(lead=lead, actor=personas.owner, expected_version=1)
    assert _snapshot() == before
    lead_convert(lead=lead, actor=personas.owner, expected_version=2)
    lead.refresh_from_db()
    assert (lead.status, lead.version) == ("converted", 3)


def test_failure_half_way_leaves_nothing_written(personas, lead):
    # The account is created first; the contact then fails on a required custom field.
    custom_field_define(
        object_type="contact", key="dept", label="Dept", field_type="text", required=True
    )
    _call(lead, personas.owner)
    before = _snapshot()
    with pytest.raises(ValidationError) as exc:
        lead_convert(lead=lead, actor=personas.owner)
    assert set(exc.value.error_dict) == {"contact.custom.dept"}
    assert _snapshot() == before
    assert not Account.all_objects.exists()


def test_who_may_convert(personas, lead):
    before = _snapshot()
    with pytest.raises(RecordNotFound):
        lead_convert(lead=lead, actor=personas.outsider)
    with pytest.raises(RecordNotFound):
        lead_convert(lead=lead, actor=personas.teammate)
    with pytest.raises(RecordNotFound):
        lead_convert(lead=lead, actor=personas.deactivated)
    from rapport.records.services import record_share

    record_share(record=lead, actor=personas.owner, user=personas.reader, access="edit")
    with pytest.raises(PermissionDenied):
        lead_convert(lead=lead, actor=personas.reader)
    assert _snapshot()[:2] == before[:2]


def test_manager_converts_a_team_members_lead_for_its_owner(personas, lead):
    result = lead_convert(lead=lead, actor=personas.manager)
    assert result["account"].owner == personas.owner
    assert result["contact"].owner == personas.owner
    assert TimelineEvent.objects.get(kind=EventKind.LEAD_CONVERTED).actor == personas.manager


def test_new_records_can_go_to_another_owner(personas, lead):
    result = lead_convert(lead=lead, actor=personas.owner, owner=personas.teammate)
    assert result["account"].owner == result["contact"].owner == personas.teammate


def test_deactivated_lead_owner_hands_new_records_to_the_actor(personas, make_lead):
    leaver = user_create(username="leaver", team=personas.team_a)
    lead = make_lead(owner=leaver)
    user_deactivate(user=leaver)
    result = lead_convert(lead=lead, actor=personas.manager)
    assert result["account"].owner == personas.manager


# ----- with an opportunity (rapport.sales.services.opportunity_create) ---------------


def test_convert_with_opportunity_in_default_pipeline_first_open_stage(personas, lead, pipeline):
    call = _call(lead, personas.owner)
    result = lead_convert(
        lead=lead,
        actor=personas.owner,
        create_opportunity=True,
        opportunity_fields={
            "amount": Decimal("1500.00"),
            "currency": "usd",
            "expected_close_date": datetime.date(2030, 1, 31),
        },
    )
    opp = result["opportunity"]
    assert opp.name == "Acme Corp"
    assert (opp.account, opp.primary_contact) == (result["account"], result["contact"])
    assert opp.pipeline == pipeline
    assert opp.stage.name == "Qualify"
    assert (opp.amount, opp.currency) == (Decimal("1500.00"), "USD")
    assert opp.expected_close_date == datetime.date(2030, 1, 31)
    assert opp.source == "web"
    assert opp.owner == personas.owner
    call.refresh_from_db()
    assert call.opportunity == opp
    lead.refresh_from_db()
    assert lead.converted_opportunity == opp
    assert (
        timeline_of(opp, user=personas.admin)
        .filter(kind=EventKind.LEAD_CONVERTED, lead=lead)
        .count()
        == 1
    )


def test_convert_with_opportunity_in_a_chosen_stage(personas, lead, pipeline):
    stage = pipeline.stages.get(name="Propose")
    result = lead_convert(
        lead=lead,
        actor=personas.owner,
        create_opportunity=True,
        opportunity_fields={"name": "Big deal", "stage_id": stage.pk},
    )
    assert (result["opportunity"].name, result["opportunity"].stage) == ("Big deal", stage)


def test_invalid_stage_fails_the_whole_conversion(personas, lead, pipeline):
    before = _snapshot()
    with pytest.raises(ValidationError) as exc:
        lead_convert(
            lead=lead,
            actor=personas.owner,
            create_opportunity=True,
            opportunity_fields={"stage_id": 987654},
        )
    assert set(exc.value.error_dict) == {"opportunity.stage_id"}
    assert _snapshot() == before
    assert not Account.all_objects.exists() and not Contact.all_objects.exists()


def test_stage_of_another_pipeline_fails_the_whole_conversion(personas, lead, pipeline):
    from rapport.sales.models import Pipeline, Stage

    other = Pipeline.objects.create(name="Partners")
    foreign_stage = Stage.objects.create(pipeline=other, name="Intro", position=1)
    before = _snapshot()
    with pytest.raises(ValidationError) as exc:
        lead_convert(
            lead=lead,
            actor=personas.owner,
            create_opportunity=True,
            opportunity_fields={"pipeline_id": pipeline.pk, "stage_id": foreign_stage.pk},
        )
    assert set(exc.value.error_dict) == {"opportunity.stage_id"}
    assert _snapshot() == before


def test_linked_contact_of_another_account_is_not_the_primary_contact(personas, lead, pipeline):
    loose = contact_create(actor=personas.owner, fields={"last_name": "Loose"})
    result = lead_convert(lead=lead, actor=personas.owner, contact=loose, create_opportunity=True)
    assert result["contact"] == loose
    assert result["opportunity"].account == result["account"]
    assert result["opportunity"].primary_contact is None
    loose.refresh_from_db()
    assert loose.account is None  # a linked record is not edited by the conversion


def test_opportunity_without_account_takes_the_contact(personas, lead, pipeline):
    result = lead_convert(
        lead=lead, actor=personas.owner, create_account=False, create_opportunity=True
    )
    assert result["opportunity"].account is None
    assert result["opportunity"].primary_contact == result["contact"]


def test_opportunity_failure_rolls_back_account_and_contact(personas, lead, pipeline):
    # Fails inside opportunity_create, after the account and contact were written.
    custom_field_define(
        object_type="opportunity", key="region", label="Region", field_type="text", required=True
    )
    before = _snapshot()
    with pytest.raises(ValidationError) as exc:
        lead_convert(lead=lead, actor=personas.owner, create_opportunity=True)
    assert set(exc.value.error_dict) == {"opportunity.custom.region"}
    assert _snapshot() == before


# ----- API ------------------------------------------------------------------------------


def test_api_convert_returns_the_lead_and_the_new_ids(personas, api_as, lead):
    api = api_as(personas.owner)
    r = api.post(f"/api/leads/{lead.pk}/convert", {}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.data
    assert r["ETag"] == '"2"'
    body = r.data
    assert body["lead"]["status"] == "converted"
    assert body["lead"]["version"] == 2
    assert body["lead"]["converted_account_id"] == body["account_id"]
    assert body["lead"]["converted_contact_id"] == body["contact_id"]
    assert body["opportunity_id"] is None
    assert api.get(f"/api/accounts/{body['account_id']}").data["name"] == "Acme Corp"
    contact = api.get(f"/api/contacts/{body['contact_id']}").data
    assert contact["account_id"] == body["account_id"]
    kinds = [e["kind"] for e in api.get(f"/api/leads/{lead.pk}/timeline").data["items"]]
    assert kinds[0] == "lead_converted"
    account_kinds = [
        e["kind"] for e in api.get(f"/api/accounts/{body['account_id']}/timeline").data["items"]
    ]
    assert account_kinds.count("lead_converted") == 1


def test_api_convert_twice_gives_409(personas, api_as, lead):
    api = api_as(personas.owner)
    assert api.post(f"/api/leads/{lead.pk}/convert", {}).status_code == 200
    before = _snapshot()
    r = api.post(f"/api/leads/{lead.pk}/convert", {})
    assert (r.status_code, r.data["code"]) == (409, "lead_converted")
    assert _snapshot() == before


def test_api_convert_disqualified_gives_409(personas, api_as, make_lead):
    lead = make_lead(status="disqualified", disqualified_reason="Spam")
    r = api_as(personas.owner).post(f"/api/leads/{lead.pk}/convert", {})
    assert (r.status_code, r.data["code"]) == (409, "lead_disqualified")


def test_api_convert_stale_if_match_gives_412(personas, api_as, lead):
    api = api_as(personas.owner)
    api.patch(f"/api/leads/{lead.pk}", {"status": "working"})
    before = _snapshot()
    r = api.post(f"/api/leads/{lead.pk}/convert", {}, headers={"If-Match": '"1"'})
    assert r.status_code == 412
    assert r["ETag"] == '"2"'
    assert _snapshot() == before


def test_api_convert_visibility(personas, api_as, lead):
    from rapport.records.services import record_share

    before = _snapshot()
    assert api_as(personas.outsider).post(f"/api/leads/{lead.pk}/convert", {}).status_code == 404
    assert api_as(personas.teammate).post(f"/api/leads/{lead.pk}/convert", {}).status_code == 404
    assert api_as(None).post(f"/api/leads/{lead.pk}/convert", {}).status_code == 401
    assert api_as(personas.deactivated).post(f"/api/leads/{lead.pk}/convert", {}).status_code == 401
    record_share(record=lead, actor=personas.owner, user=personas.reader)
    r = api_as(personas.reader).post(f"/api/leads/{lead.pk}/convert", {"account_id": 424242})
    assert r.status_code == 403
    assert _snapshot()[:2] == before[:2]
    r = api_as(personas.manager).post(f"/api/leads/{lead.pk}/convert", {})
    assert r.status_code == 200, r.data
    assert Account.objects.get(pk=r.data["account_id"]).owner == personas.owner


def test_api_convert_links_existing_records(personas, api_as, lead):
    api = api_as(personas.owner)
    account_id = api.post("/api/accounts", {"name": "Existing"}).data["id"]
    contact_id = api.post("/api/contacts", {"last_name": "Known"}).data["id"]
    r = api.post(
        f"/api/leads/{lead.pk}/convert", {"account_id": account_id, "contact_id": contact_id}
    )
    assert r.status_code == 200, r.data
    assert (r.data["account_id"], r.data["contact_id"]) == (account_id, contact_id)
    assert Account.objects.count() == 1 and Contact.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"account_id": 999999}, "account_id"),
        ({"contact_id": 999999}, "contact_id"),
        ({"owner_id": 999999}, "owner_id"),
        ({"create_account": False, "create_contact": False}, None),
        ({"create_opportunity": "maybe"}, "create_opportunity"),
        ({"create_opportunity": True, "opportunity": {"amount": -1}}, "opportunity.amount"),
        ({"create_opportunity": True, "opportunity": {"currency": "EURO"}}, "opportunity.currency"),
        ({"create_opportunity": True, "opportunity": {"name": ""}}, "opportunity.name"),
    ],
)
def test_api_convert_bad_input_gives_422_and_writes_nothing(personas, api_as, lead, body, field):
    before = _snapshot()
    r = api_as(personas.owner).post(f"/api/leads/{lead.pk}/convert", body)
    assert r.status_code == 422, r.data
    assert r.data["field"] == field
    assert _snapshot() == before


def test_api_convert_refuses_someone_elses_account(personas, api_as, lead):
    foreign = api_as(personas.outsider).post("/api/accounts", {"name": "Theirs"}).data["id"]
    r = api_as(personas.owner).post(f"/api/leads/{lead.pk}/convert", {"account_id": foreign})
    assert (r.status_code, r.data["field"], r.data["code"]) == (
        422,
        "account_id",
        "invalid_account",
    )


def test_api_convert_with_opportunity(personas, api_as, lead, pipeline):
    api = api_as(personas.owner)
    r = api.post(
        f"/api/leads/{lead.pk}/convert",
        {
            "create_opportunity": True,
            "opportunity": {
                "name": "First order",
                "amount": "2500.50",
                "currency": "EUR",
                "expected_close_date": "2030-06-30",
                "pipeline_id": pipeline.pk,
            },
        },
    )
    assert r.status_code == 200, r.data
    assert r.data["opportunity_id"] == r.data["lead"]["converted_opportunity_id"]
    from rapport.sales.models import Opportunity

    opp = Opportunity.objects.get(pk=r.data["opportunity_id"])
    assert (opp.name, opp.amount, opp.account_id) == (
        "First order",
        Decimal("2500.50"),
        r.data["account_id"],
    )


def test_api_invalid_stage_fails_whole_conversion_with_422(personas, api_as, lead, pipeline):
    before = _snapshot()
    r = api_as(personas.owner).post(
        f"/api/leads/{lead.pk}/convert",
        {"create_opportunity": True, "opportunity": {"stage_id": 987654}},
    )
    assert r.status_code == 422, r.data
    assert r.data["field"] == "opportunity.stage_id"
    assert _snapshot() == before
    assert not Account.all_objects.exists() and not Contact.all_objects.exists()
