import pytest

from rapport.leads.selectors import lead_get_for_user, lead_list
from rapport.leads.services import lead_delete
from rapport.records.exceptions import RecordNotFound
from rapport.records.models import Access, OrgDefault
from rapport.records.services import record_share

pytestmark = pytest.mark.django_db


def _ids(qs):
    return sorted(lead.pk for lead in qs)


def test_list_shows_each_user_what_they_may_see(personas, make_lead):
    mine = make_lead(last_name="Mine")
    teammates = make_lead(owner=personas.teammate, last_name="Theirs")
    foreign = make_lead(owner=personas.outsider, last_name="Foreign")
    assert _ids(lead_list(user=personas.owner)) == [mine.pk]
    assert _ids(lead_list(user=personas.manager)) == sorted([mine.pk, teammates.pk])
    assert _ids(lead_list(user=personas.outsider)) == [foreign.pk]
    assert _ids(lead_list(user=personas.admin)) == sorted([mine.pk, teammates.pk, foreign.pk])
    assert _ids(lead_list(user=personas.reader)) == []
    record_share(record=mine, actor=personas.owner, user=personas.reader)
    assert _ids(lead_list(user=personas.reader)) == [mine.pk]
    # A deactivated user sees nothing, even what is shared with them.
    record_share(record=mine, actor=personas.owner, user=personas.deactivated)
    assert not personas.deactivated.is_active
    assert _ids(lead_list(user=personas.deactivated)) == []


def test_org_default_public_read_shows_every_lead(personas, make_lead):
    lead = make_lead()
    OrgDefault.objects.create(object_type="lead", access=Access.PUBLIC_READ)
    assert _ids(lead_list(user=personas.outsider)) == [lead.pk]


def test_filter_by_several_statuses_source_and_campaign(personas, make_lead):
    new = make_lead(source="web", campaign="Spring 2025")
    working = make_lead(status="working", source="Referral")
    make_lead(status="disqualified", disqualified_reason="Spam", source="web")
    assert _ids(lead_list(user=personas.owner, status=["new", "working"])) == sorted(
        [new.pk, working.pk]
    )
    assert _ids(lead_list(user=personas.owner, status=["working"])) == [working.pk]
    assert _ids(lead_list(user=personas.owner, source="referral")) == [working.pk]
    assert _ids(lead_list(user=personas.owner, source="web", status=["new"])) == [new.pk]
    assert _ids(lead_list(user=personas.owner, campaign="spring 2025")) == [new.pk]


def test_text_search_over_names_email_and_company(personas, make_lead):
    a = make_lead(first_name="Ada", last_name="Lovelace", company="Engines", email="ada@calc.io")
    b = make_lead(first_name="Alan", last_name="Turing", company="Bletchley")
    assert _ids(lead_list(user=personas.owner, q="ada")) == [a.pk]
    assert _ids(lead_list(user=personas.owner, q="turing")) == [b.pk]
    assert _ids(lead_list(user=personas.owner, q="calc.io")) == [a.pk]
    assert _ids(lead_list(user=personas.owner, q="bletch")) == [b.pk]
    assert _ids(lead_list(user=personas.owner, q="alan bletchley")) == [b.pk]
    assert _ids(lead_list(user=personas.owner, q="alan engines")) == []


def test_owned_record_filters_apply(personas, make_lead):
    hot = make_lead(tags=["hot"])
    make_lead(owner=personas.teammate)
    assert _ids(lead_list(user=personas.manager, owner_id=personas.owner.pk)) == [hot.pk]
    assert _ids(lead_list(user=personas.manager, tags=["hot"])) == [hot.pk]


def test_deleted_leads_only_in_the_trash(personas, make_lead):
    kept = make_lead()
    gone = make_lead()
    lead_delete(lead=gone, actor=personas.owner)
    assert _ids(lead_list(user=personas.owner)) == [kept.pk]
    assert _ids(lead_list(user=personas.owner, deleted=True)) == [gone.pk]
    with pytest.raises(RecordNotFound):
        lead_get_for_user(pk=gone.pk, user=personas.owner)
    assert lead_get_for_user(pk=gone.pk, user=personas.owner, scope="all") == gone


def test_get_for_user_hides_existence_from_outsiders(personas, make_lead):
    lead = make_lead()
    assert lead_get_for_user(pk=lead.pk, user=personas.manager) == lead
    with pytest.raises(RecordNotFound):
        lead_get_for_user(pk=lead.pk, user=personas.outsider)
    with pytest.raises(RecordNotFound):
        lead_get_for_user(pk=999999, user=personas.admin)
