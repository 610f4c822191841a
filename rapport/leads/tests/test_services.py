import pytest
from django.core.exceptions import ValidationError

from rapport.leads.models import Lead, LeadStatus
from rapport.leads.services import lead_create, lead_delete, lead_restore, lead_update
from rapport.records.custom_fields import custom_field_define
from rapport.records.exceptions import Conflict, PermissionDenied, RecordNotFound, StaleVersion
from rapport.records.services import record_share
from rapport.timeline.models import EventKind, TimelineEvent

pytestmark = pytest.mark.django_db


def _fields_of(exc: ValidationError) -> set[str]:
    return set(exc.value.error_dict)


def _events(lead, kind=None):
    qs = TimelineEvent.objects.filter(lead=lead)
    return list(qs.filter(kind=kind) if kind else qs)


def test_create_normalises_email_and_phone_and_logs_created(personas, make_lead):
    lead = make_lead(email="  Jane.Doe@Example.COM ", phone="(650) 253-0000", country="de")
    lead.refresh_from_db()
    assert lead.email == "Jane.Doe@example.com"
    assert lead.phone == "+16502530000"  # national number, default region US
    assert lead.country == "DE"
    assert lead.status == LeadStatus.NEW
    assert lead.owner == personas.owner
    assert lead.team == personas.team_a
    assert [e.kind for e in _events(lead)] == [EventKind.CREATED]


def test_create_keeps_international_phone_in_e164(make_lead):
    assert make_lead(phone="+49 30 901820").phone == "+4930901820"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"phone": "call me"}, "phone"),
        ({"last_name": ""}, "last_name"),
        ({"website": "not a url"}, "website"),
        ({"status": "bogus"}, "status"),
    ],
)
def test_create_rejects_bad_input_naming_the_field(personas, fields, field):
    with pytest.raises(ValidationError) as exc:
        lead_create(actor=personas.owner, fields={"last_name": "Doe", **fields})
    assert field in _fields_of(exc)
    assert not Lead.all_objects.exists()


def test_create_refuses_converted_status(personas):
    with pytest.raises(ValidationError) as exc:
        lead_create(actor=personas.owner, fields={"last_name": "Doe", "status": "converted"})
    assert _fields_of(exc) == {"status"}
    assert exc.value.error_dict["status"][0].code == "convert_required"


def test_disqualified_needs_a_reason_on_create(personas):
    with pytest.raises(ValidationError) as exc:
        lead_create(actor=personas.owner, fields={"last_name": "Doe", "status": "disqualified"})
    assert _fields_of(exc) == {"disqualified_reason"}
    lead = lead_create(
        actor=personas.owner,
        fields={"last_name": "Doe", "status": "disqualified", "disqualified_reason": "No budget"},
    )
    assert lead.disqualified_reason == "No budget"


def test_read_only_user_cannot_create(personas):
    with pytest.raises(PermissionDenied):
        lead_create(actor=personas.reader, fields={"last_name": "Doe"})


def test_create_with_tags_and_custom_fields(personas, make_lead):
    custom_field_define(object_type="lead", key="budget", label="Budget", field_type="money")
    lead = make_lead(tags=["hot", "event"], custom={"budget": "1200.5"})
    assert sorted(lead.tags.values_list("name", flat=True)) == ["event", "hot"]
    assert lead.custom == {"budget": 1200.5}
    with pytest.raises(ValidationError) as exc:
        make_lead(custom={"nope": 1})
    assert _fields_of(exc) == {"custom.nope"}


def test_status_change_writes_updated_event_and_bumps_version(personas, make_lead):
    lead = make_lead()
    diff = lead_update(lead=lead, actor=personas.owner, fields={"status": "working"})
    assert diff == {"status": {"old": "new", "new": "working"}}
    lead.refresh_from_db()
    assert (lead.status, lead.version) == ("working", 2)
    [event] = _events(lead, EventKind.UPDATED)
    assert event.payload["changes"]["status"] == {"old": "new", "new": "working"}
    assert event.actor == personas.owner


def test_update_normalises_email_and_phone(personas, make_lead):
    lead = make_lead()
    lead_update(
        lead=lead, actor=personas.owner, fields={"email": "A@B.EXAMPLE", "phone": "650-253-0000"}
    )
    lead.refresh_from_db()
    assert (lead.email, lead.phone) == ("A@b.example", "+16502530000")


def test_disqualifying_needs_a_reason_and_reopening_clears_it(personas, make_lead):
    lead = make_lead()
    with pytest.raises(ValidationError) as exc:
        lead_update(lead=lead, actor=personas.owner, fields={"status": "disqualified"})
    assert _fields_of(exc) == {"disqualified_reason"}
    with pytest.raises(ValidationError):
        lead_update(
            lead=lead,
            actor=personas.owner,
            fields={"status": "disqualified", "disqualified_reason": "   "},
        )
    lead.refresh_from_db()
    assert (lead.status, lead.version) == ("new", 1)
    lead_update(
        lead=lead,
        actor=personas.owner,
        fields={"status": "disqualified", "disqualified_reason": "Student"},
    )
    # Clearing the reason of a disqualified lead is refused too.
    with pytest.raises(ValidationError) as exc:
        lead_update(lead=lead, actor=personas.owner, fields={"disqualified_reason": ""})
    assert _fields_of(exc) == {"disqualified_reason"}
    lead_update(lead=lead, actor=personas.owner, fields={"status": "working"})
    lead.refresh_from_db()
    assert (lead.status, lead.disqualified_reason) == ("working", "")


def test_update_to_converted_is_refused(personas, make_lead):
    lead = make_lead()
    with pytest.raises(ValidationError) as exc:
        lead_update(lead=lead, actor=personas.owner, fields={"status": "converted"})
    assert _fields_of(exc) == {"status"}
    lead.refresh_from_db()
    assert lead.status == "new"


def test_converted_lead_cannot_be_edited(personas, make_lead):
    lead = make_lead()
    Lead.objects.filter(pk=lead.pk).update(status=LeadStatus.CONVERTED)
    lead.refresh_from_db()
    with pytest.raises(Conflict) as exc:
        lead_update(lead=lead, actor=personas.owner, fields={"title": "CEO"})
    assert exc.value.code == "lead_converted"
    lead.refresh_from_db()
    assert lead.title == ""


def test_stale_version_changes_nothing(personas, make_lead):
    lead = make_lead()
    lead_update(lead=lead, actor=personas.owner, fields={"title": "CTO"})
    with pytest.raises(StaleVersion):
        lead_update(lead=lead, actor=personas.owner, fields={"title": "CEO"}, expected_version=1)
    lead.refresh_from_db()
    assert (lead.title, lead.version) == ("CTO", 2)


def test_who_may_update(personas, make_lead):
    lead = make_lead()
    with pytest.raises(RecordNotFound):
        lead_update(lead=lead, actor=personas.outsider, fields={"title": "x"})
    with pytest.raises(RecordNotFound):
        lead_update(lead=lead, actor=personas.teammate, fields={"title": "x"})
    with pytest.raises(RecordNotFound):
        lead_update(lead=lead, actor=personas.reader, fields={"title": "x"})
    # Even an edit share does not let a read-only user change anything.
    record_share(record=lead, actor=personas.owner, user=personas.reader, access="edit")
    with pytest.raises(PermissionDenied):
        lead_update(lead=lead, actor=personas.reader, fields={"title": "x"})
    record_share(record=lead, actor=personas.owner, user=personas.teammate, access="edit")
    lead_update(lead=lead, actor=personas.teammate, fields={"title": "by teammate"})
    lead_update(lead=lead, actor=personas.manager, fields={"title": "by manager"})
    lead_update(lead=lead, actor=personas.admin, fields={"title": "by admin"})
    lead.refresh_from_db()
    assert lead.title == "by admin"


def test_owner_change_moves_team_and_logs_it(personas, make_lead):
    lead = make_lead()
    lead_update(lead=lead, actor=personas.owner, fields={}, owner=personas.outsider)
    lead.refresh_from_db()
    assert (lead.owner, lead.team) == (personas.outsider, personas.team_b)
    assert len(_events(lead, EventKind.OWNER_CHANGED)) == 1


def test_soft_delete_and_restore(personas, make_lead):
    lead = make_lead()
    lead_delete(lead=lead, actor=personas.owner)
    assert not Lead.objects.filter(pk=lead.pk).exists()
    lead = Lead.all_objects.get(pk=lead.pk)
    assert lead.deleted_at is not None
    lead_restore(lead=lead, actor=personas.owner)
    assert Lead.objects.filter(pk=lead.pk).exists()
    kinds = [e.kind for e in _events(lead)]
    assert EventKind.DELETED in kinds and EventKind.RESTORED in kinds
