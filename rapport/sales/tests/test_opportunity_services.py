"""Opportunity services: creation defaults, stage moves as logged actions, updates."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from rapport.accounts.services import account_create, contact_create
from rapport.records.custom_fields import custom_field_define
from rapport.records.exceptions import PermissionDenied, RecordNotFound, StaleVersion
from rapport.records.models import ObjectType
from rapport.records.services import record_share
from rapport.sales.models import Opportunity, StageChange
from rapport.sales.selectors import opportunity_get_for_user, opportunity_list
from rapport.sales.services import (
    opportunity_create,
    opportunity_delete,
    opportunity_move_stage,
    opportunity_restore,
    opportunity_update,
    pipeline_create,
)
from rapport.timeline.models import EventKind, TimelineEvent

pytestmark = pytest.mark.django_db

FULL = [
    {"name": "Talk", "kind": "open", "probability": 30},
    {"name": "Signed", "kind": "won"},
    {"name": "Gone", "kind": "lost"},
]


def kinds(**filters):
    return list(
        TimelineEvent.objects.filter(**filters).order_by("id").values_list("kind", flat=True)
    )


def test_create_defaults_to_default_pipeline_and_first_open_stage(personas, pipeline, stages):
    opp = opportunity_create(actor=personas.owner, fields={"name": "Deal"})
    assert opp.pipeline == pipeline
    assert opp.stage == stages["Prospecting"]
    assert opp.probability == 10
    assert opp.closed_at is None
    assert opp.stage_changed_at is not None
    assert (opp.owner, opp.team) == (personas.owner, personas.team_a)
    change = StageChange.objects.get(opportunity=opp)
    assert (change.from_stage, change.to_stage, change.changed_by) == (
        None,
        stages["Prospecting"],
        personas.owner,
    )
    assert kinds(opportunity=opp) == [EventKind.CREATED]


def test_create_as_the_leads_app_calls_it(personas, account, contact, stages):
    opp = opportunity_create(
        actor=personas.owner,
        fields={
            "name": "From lead",
            "account": account,
            "primary_contact": contact,
            "pipeline": None,
            "stage": None,
            "amount": Decimal("250.50"),
            "currency": "usd",
            "source": "web",
        },
        owner=personas.teammate,
        tags=["hot"],
    )
    assert opp.stage == stages["Prospecting"]
    assert (opp.currency, opp.amount, opp.owner) == ("USD", Decimal("250.50"), personas.teammate)
    assert sorted(t.name for t in opp.tags.all()) == ["hot"]
    # The creation event carries the account, so the account's timeline shows it once.
    assert kinds(account=account, opportunity=opp) == [EventKind.CREATED]


def test_create_with_a_stage_only_takes_its_pipeline(personas):
    other = pipeline_create(actor=personas.admin, name="Other", stages=FULL)
    talk = other.stages.get(name="Talk")
    opp = opportunity_create(actor=personas.owner, fields={"name": "X", "stage": talk})
    assert (opp.pipeline, opp.probability) == (other, 30)


def test_create_refuses_stage_of_another_pipeline(personas, pipeline):
    other = pipeline_create(actor=personas.admin, name="Other", stages=FULL)
    with pytest.raises(ValidationError) as exc:
        opportunity_create(
            actor=personas.owner,
            fields={"name": "X", "pipeline": pipeline, "stage": other.stages.first()},
        )
    assert exc.value.error_dict["stage_id"][0].code == "stage_pipeline"


def test_create_refuses_an_incomplete_pipeline(personas):
    half = pipeline_create(actor=personas.admin, name="Half", stages=FULL[:2])
    with pytest.raises(ValidationError) as exc:
        opportunity_create(actor=personas.owner, fields={"name": "X", "pipeline": half})
    assert exc.value.error_dict["pipeline_id"][0].code == "pipeline_incomplete"


def test_contact_of_another_account_is_refused(personas, contact):
    other = account_create(actor=personas.owner, fields={"name": "Other"})
    with pytest.raises(ValidationError) as exc:
        opportunity_create(
            actor=personas.owner,
            fields={"name": "X", "account": other, "primary_contact": contact},
        )
    assert "primary_contact_id" in exc.value.message_dict


def test_create_in_a_lost_stage_needs_a_reason_and_closes(personas, stages):
    with pytest.raises(ValidationError) as exc:
        opportunity_create(
            actor=personas.owner, fields={"name": "X", "stage": stages["Closed Lost"]}
        )
    assert "lost_reason" in exc.value.message_dict
    opp = opportunity_create(
        actor=personas.owner,
        fields={"name": "X", "stage": stages["Closed Lost"], "lost_reason": "price"},
    )
    assert opp.closed_at is not None and opp.probability == 0


def test_read_only_user_cannot_create(personas):
    with pytest.raises(PermissionDenied):
        opportunity_create(actor=personas.reader, fields={"name": "X"})


def test_custom_fields_are_validated(personas):
    custom_field_define(
        object_type=ObjectType.OPPORTUNITY, key="budget", label="Budget", field_type="number"
    )
    opp = opportunity_create(actor=personas.owner, fields={"name": "X"}, custom={"budget": "12"})
    assert opp.custom == {"budget": 12}
    with pytest.raises(ValidationError):
        opportunity_create(actor=personas.owner, fields={"name": "X"}, custom={"budget": "lots"})


def test_move_stage_logs_history_and_timeline(personas, stages, make_opportunity):
    opp = make_opportunity()
    opportunity_move_stage(opportunity=opp, stage=stages["Proposal"], actor=personas.manager)
    opp.refresh_from_db()
    assert (opp.stage, opp.probability, opp.version) == (stages["Proposal"], 50, 2)
    change = StageChange.objects.filter(opportunity=opp).last()
    assert (change.from_stage, change.to_stage) == (stages["Prospecting"], stages["Proposal"])
    assert (change.changed_by, change.amount) == (personas.manager, Decimal("1000.00"))
    event = TimelineEvent.objects.get(opportunity=opp, kind=EventKind.STAGE_CHANGED)
    assert event.payload["from"]["name"] == "Prospecting"
    assert event.payload["to"] == {"id": stages["Proposal"].pk, "name": "Proposal", "kind": "open"}
    assert event.actor == personas.manager


def test_won_sets_closed_at_and_reopening_clears_it(personas, stages, make_opportunity):
    opp = make_opportunity()
    opportunity_move_stage(opportunity=opp, stage=stages["Closed Won"], actor=personas.owner)
    assert opp.closed_at is not None and opp.probability == 100
    opportunity_move_stage(opportunity=opp, stage=stages["Negotiation"], actor=personas.owner)
    opp.refresh_from_db()
    assert opp.closed_at is None and opp.probability == 75


def test_winning_or_losing_sets_the_close_date_to_the_day_of_the_move(
    personas, stages, make_opportunity
):
    """Issue 9 item 7: winning left the planned close date (31 Dec in the demo)."""
    planned = datetime.date(2030, 12, 31)
    won = make_opportunity(expected_close_date=planned)
    with time_machine.travel(datetime.datetime(2026, 3, 14, 12, tzinfo=datetime.UTC), tick=False):
        opportunity_move_stage(opportunity=won, stage=stages["Closed Won"], actor=personas.owner)
    won.refresh_from_db()
    assert won.expected_close_date == datetime.date(2026, 3, 14)
    event = TimelineEvent.objects.filter(opportunity=won, kind=EventKind.STAGE_CHANGED).latest("id")
    assert event.payload["expected_close_date"] == {"old": "2030-12-31", "new": "2026-03-14"}
    # Editable afterwards; reopening keeps it.
    opportunity_update(
        opportunity=won,
        actor=personas.owner,
        fields={"expected_close_date": datetime.date(2026, 2, 27)},
    )
    opportunity_move_stage(opportunity=won, stage=stages["Negotiation"], actor=personas.owner)
    won.refresh_from_db()
    assert won.expected_close_date == datetime.date(2026, 2, 27)

    lost = make_opportunity(expected_close_date=planned)
    with time_machine.travel(datetime.datetime(2026, 4, 2, 12, tzinfo=datetime.UTC), tick=False):
        opportunity_move_stage(
            opportunity=lost, stage=stages["Closed Lost"], actor=personas.owner, lost_reason="x"
        )
    lost.refresh_from_db()
    assert lost.expected_close_date == datetime.date(2026, 4, 2)


def test_a_close_date_given_with_the_win_is_kept(personas, stages, make_opportunity):
    opp = make_opportunity(expected_close_date=datetime.date(2030, 12, 31))
    opportunity_update(
        opportunity=opp,
        actor=personas.owner,
        fields={"stage": stages["Closed Won"], "expected_close_date": datetime.date(2026, 1, 5)},
    )
    opp.refresh_from_db()
    assert opp.stage == stages["Closed Won"]
    assert opp.expected_close_date == datetime.date(2026, 1, 5)
    # An edit form sends the date it showed: unchanged, it is not a choice.
    shown = make_opportunity(expected_close_date=datetime.date(2030, 12, 31))
    opportunity_update(
        opportunity=shown,
        actor=personas.owner,
        fields={"stage": stages["Closed Won"], "expected_close_date": datetime.date(2030, 12, 31)},
    )
    shown.refresh_from_db()
    assert shown.expected_close_date == timezone.localdate()
    # Created won without a date: closed today.
    created = make_opportunity(stage=stages["Closed Won"])
    assert created.expected_close_date == timezone.localdate()
    dated = make_opportunity(
        stage=stages["Closed Won"], expected_close_date=datetime.date(2025, 5, 1)
    )
    assert dated.expected_close_date == datetime.date(2025, 5, 1)


def test_lost_stage_needs_a_reason(personas, stages, make_opportunity):
    opp = make_opportunity()
    with pytest.raises(ValidationError) as exc:
        opportunity_move_stage(opportunity=opp, stage=stages["Closed Lost"], actor=personas.owner)
    assert exc.value.error_dict["lost_reason"][0].code == "required"
    opportunity_move_stage(
        opportunity=opp, stage=stages["Closed Lost"], actor=personas.owner, lost_reason=" price "
    )
    opp.refresh_from_db()
    assert (opp.lost_reason, opp.probability) == ("price", 0)
    assert opp.closed_at is not None
    # Reopening clears the reason.
    opportunity_move_stage(opportunity=opp, stage=stages["Proposal"], actor=personas.owner)
    opp.refresh_from_db()
    assert opp.lost_reason == ""


def test_move_to_another_pipelines_stage_is_refused(personas, make_opportunity):
    other = pipeline_create(actor=personas.admin, name="Other", stages=FULL)
    opp = make_opportunity()
    with pytest.raises(ValidationError) as exc:
        opportunity_move_stage(opportunity=opp, stage=other.stages.first(), actor=personas.owner)
    assert exc.value.error_dict["stage_id"][0].code == "stage_pipeline"
    assert StageChange.objects.filter(opportunity=opp).count() == 1


def test_stale_version_moves_nothing(personas, stages, make_opportunity):
    opp = make_opportunity()
    with pytest.raises(StaleVersion):
        opportunity_move_stage(
            opportunity=opp, stage=stages["Proposal"], actor=personas.owner, expected_version=7
        )
    opp.refresh_from_db()
    assert opp.stage == stages["Prospecting"]


def test_move_needs_edit_rights(personas, stages, make_opportunity):
    opp = make_opportunity()
    with pytest.raises(RecordNotFound):
        opportunity_move_stage(opportunity=opp, stage=stages["Proposal"], actor=personas.outsider)
    # Even an edit share gives a read-only user no edit rights.
    record_share(record=opp, actor=personas.owner, user=personas.reader, access="edit")
    with pytest.raises(PermissionDenied):
        opportunity_move_stage(opportunity=opp, stage=stages["Proposal"], actor=personas.reader)


def test_update_routes_a_stage_change_through_the_move(personas, stages, make_opportunity):
    opp = make_opportunity()
    diff = opportunity_update(
        opportunity=opp,
        actor=personas.owner,
        fields={"stage": stages["Negotiation"], "name": "Bigger deal"},
        expected_version=1,
    )
    assert {"stage", "name"} <= set(diff)
    opp.refresh_from_db()
    assert (opp.stage, opp.probability, opp.name) == (stages["Negotiation"], 75, "Bigger deal")
    assert StageChange.objects.filter(opportunity=opp).count() == 2
    assert kinds(opportunity=opp) == [
        EventKind.CREATED,
        EventKind.STAGE_CHANGED,
        EventKind.UPDATED,
    ]


def test_update_changes_pipeline_with_a_stage_of_it(personas, make_opportunity):
    other = pipeline_create(actor=personas.admin, name="Other", stages=FULL)
    talk = other.stages.get(name="Talk")
    opp = make_opportunity()
    with pytest.raises(ValidationError) as exc:
        opportunity_update(opportunity=opp, actor=personas.owner, fields={"pipeline": other})
    assert exc.value.error_dict["stage_id"][0].code == "required"
    opportunity_update(
        opportunity=opp, actor=personas.owner, fields={"pipeline": other, "stage": talk}
    )
    opp.refresh_from_db()
    assert (opp.pipeline, opp.stage, opp.probability) == (other, talk, 30)
    event = TimelineEvent.objects.get(opportunity=opp, kind=EventKind.STAGE_CHANGED)
    assert event.payload["pipeline"]["new"] == other.pk


def test_update_lost_reason_only_on_a_lost_opportunity(personas, stages, make_opportunity):
    opp = make_opportunity()
    with pytest.raises(ValidationError) as exc:
        opportunity_update(opportunity=opp, actor=personas.owner, fields={"lost_reason": "x"})
    assert exc.value.error_dict["lost_reason"][0].code == "not_lost"
    opportunity_update(
        opportunity=opp,
        actor=personas.owner,
        fields={"stage": stages["Closed Lost"], "lost_reason": "budget"},
    )
    assert opp.lost_reason == "budget"
    with pytest.raises(ValidationError):
        opportunity_update(opportunity=opp, actor=personas.owner, fields={"lost_reason": ""})


def test_update_stale_version_changes_nothing(personas, stages, make_opportunity):
    opp = make_opportunity()
    with pytest.raises(StaleVersion):
        opportunity_update(
            opportunity=opp,
            actor=personas.owner,
            fields={"stage": stages["Proposal"], "name": "New"},
            expected_version=5,
        )
    opp.refresh_from_db()
    assert (opp.stage, opp.name, opp.version) == (stages["Prospecting"], "Big deal", 1)


def test_update_checks_contact_against_account(personas, account, contact, make_opportunity):
    opp = make_opportunity(account=account, primary_contact=contact)
    other = account_create(actor=personas.owner, fields={"name": "Other"})
    with pytest.raises(ValidationError):
        opportunity_update(opportunity=opp, actor=personas.owner, fields={"account": other})
    opportunity_update(
        opportunity=opp, actor=personas.owner, fields={"account": other, "primary_contact": None}
    )
    opp.refresh_from_db()
    assert (opp.account, opp.primary_contact) == (other, None)
    loose = contact_create(actor=personas.owner, fields={"last_name": "Loose"})
    with pytest.raises(ValidationError):
        opportunity_update(opportunity=opp, actor=personas.owner, fields={"primary_contact": loose})


def test_soft_delete_and_restore(personas, make_opportunity):
    opp = make_opportunity()
    opportunity_delete(opportunity=opp, actor=personas.owner)
    assert not Opportunity.objects.filter(pk=opp.pk).exists()
    with pytest.raises(RecordNotFound):
        opportunity_get_for_user(pk=opp.pk, user=personas.owner)
    assert [o.pk for o in opportunity_list(user=personas.owner, deleted=True)] == [opp.pk]
    opportunity_restore(opportunity=opp, actor=personas.owner)
    assert opportunity_get_for_user(pk=opp.pk, user=personas.owner).deleted_at is None


def test_list_filters(personas, account, stages, make_opportunity):
    import datetime

    a = make_opportunity(name="Alpha", amount=Decimal("100"), account=account)
    b = make_opportunity(
        name="Beta", amount=Decimal("5000"), expected_close_date=datetime.date(2030, 1, 15)
    )
    c = make_opportunity(name="Gamma", stage=stages["Closed Won"], amount=Decimal("50"))

    def names(**filters):
        return sorted(o.name for o in opportunity_list(user=personas.owner, **filters))

    assert names() == ["Alpha", "Beta", "Gamma"]
    assert names(stage_kind="won") == ["Gamma"]
    assert names(stage_kind="open") == ["Alpha", "Beta"]
    assert names(stage_id=stages["Closed Won"].pk) == ["Gamma"]
    assert names(pipeline_id=a.pipeline_id) == ["Alpha", "Beta", "Gamma"]
    assert names(account_id=account.pk) == ["Alpha"]
    assert names(amount_min=Decimal("100")) == ["Alpha", "Beta"]
    assert names(amount_max=Decimal("100")) == ["Alpha", "Gamma"]
    assert names(close_from=datetime.date(2030, 1, 1), close_to=datetime.date(2030, 2, 1)) == [
        "Beta"
    ]
    assert names(q="acme") == ["Alpha"]
    assert names(q="gam") == ["Gamma"]
    assert {b.pk, c.pk} <= {o.pk for o in opportunity_list(user=personas.manager)}
    assert names_for_outsider(personas) == []


def names_for_outsider(personas):
    return [o.name for o in opportunity_list(user=personas.outsider)]
