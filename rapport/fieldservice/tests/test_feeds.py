"""iCalendar feeds parsed back with `icalendar` (and expanded with recurring-ical-events),
secret-link rotation, and vCards parsed back with `vobject`."""

import datetime

import recurring_ical_events
import vobject
from django.test import Client
from django.utils import timezone
from icalendar import Calendar

from rapport.accounts.services import contact_create
from rapport.activities.services import activity_log
from rapport.fieldservice.feeds import feed_rotate
from rapport.fieldservice.models import CalendarFeed
from rapport.fieldservice.services import work_order_update


def _get(path):
    return Client().get(path)


def test_work_order_feed_parses_and_sequence_moves(personas, work_order, slot):
    token = feed_rotate(user=personas.teammate, kind="work_orders")
    path = f"/feeds/work-orders/{token}.ics"
    response = _get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    cal = Calendar.from_ical(response.content)
    assert cal["VERSION"] == "2.0" and cal["PRODID"]
    events = cal.walk("VEVENT")
    assert len(events) == 1
    event = events[0]
    uid, sequence = str(event["UID"]), int(event["SEQUENCE"])
    assert uid == f"work-order-{work_order.pk}@testserver"
    assert event["DTSTAMP"].dt.tzinfo is not None
    assert event.decoded("DTSTART") == slot[0].astimezone(datetime.UTC)
    assert event.decoded("DTSTART").utcoffset() == datetime.timedelta(0)
    assert event.decoded("DTEND") == slot[1].astimezone(datetime.UTC)
    assert "Boiler service" in str(event["SUMMARY"]) and "1 Main St" in str(event["LOCATION"])
    # recurring-ical-events reads the feed as a calendar client would.
    day = slot[0].date()
    found = recurring_ical_events.of(cal).between(day, day + datetime.timedelta(days=1))
    assert [str(e["UID"]) for e in found] == [uid]

    work_order_update(
        work_order=work_order, actor=personas.owner, fields={"title": "Boiler repair"}
    )
    again = Calendar.from_ical(_get(path).content).walk("VEVENT")[0]
    assert str(again["UID"]) == uid  # stable
    assert int(again["SEQUENCE"]) > sequence
    assert "Boiler repair" in str(again["SUMMARY"])


def test_rotation_kills_the_old_link_and_tokens_are_hashed(personas, work_order):
    old = feed_rotate(user=personas.teammate, kind="work_orders")
    assert _get(f"/feeds/work-orders/{old}.ics").status_code == 200
    stored = CalendarFeed.objects.get(user=personas.teammate)
    assert old not in stored.token_hash
    client = Client()
    client.force_login(personas.teammate)
    page = client.post("/feeds/", {"kind": "work_orders", "action": "rotate"})
    assert page.status_code == 200
    new_url = page.context["rows"][0]["url"]
    new_token = new_url.rsplit("/", 1)[1].removesuffix(".ics")
    assert new_token != old
    assert _get(f"/feeds/work-orders/{old}.ics").status_code == 404
    assert _get(f"/feeds/work-orders/{new_token}.ics").status_code == 200
    # A token of one kind does not open the other feed; made-up tokens are 404.
    assert _get(f"/feeds/activities/{new_token}.ics").status_code == 404
    assert _get("/feeds/work-orders/nonsense.ics").status_code == 404
    client.post("/feeds/", {"kind": "work_orders", "action": "revoke"})
    assert _get(f"/feeds/work-orders/{new_token}.ics").status_code == 404


def test_activities_feed_has_meetings_and_tasks(personas, account):
    start = timezone.now().replace(microsecond=0) + datetime.timedelta(days=1)
    meeting, _ = activity_log(
        actor=personas.owner,
        kind="meeting",
        fields={
            "subject": "Quarterly review",
            "starts_at": start,
            "ends_at": start + datetime.timedelta(hours=1),
            "location": "Lyon",
        },
        links={"account_id": account.pk},
    )
    task, _ = activity_log(
        actor=personas.owner,
        kind="task",
        fields={"subject": "Send quote", "due_at": start + datetime.timedelta(days=2)},
        links={"account_id": account.pk},
    )
    token = feed_rotate(user=personas.owner, kind="activities")
    cal = Calendar.from_ical(_get(f"/feeds/activities/{token}.ics").content)
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {f"activity-{meeting.pk}@testserver", f"activity-{task.pk}@testserver"}
    assert str(events[f"activity-{meeting.pk}@testserver"]["SUMMARY"]) == "Quarterly review"
    due = events[f"activity-{task.pk}@testserver"].decoded("DTSTART")
    assert isinstance(due, datetime.date) and not isinstance(due, datetime.datetime)
    window = recurring_ical_events.of(cal).between(
        start.date(), start.date() + datetime.timedelta(days=5)
    )
    assert len(window) == 2


def test_vcard_of_a_contact_and_of_a_selection(personas, account, contact):
    hidden = contact_create(actor=personas.outsider, fields={"last_name": "Secret"})
    client = Client()
    client.force_login(personas.owner)
    response = client.get(f"/contacts/{contact.pk}/vcard.vcf")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/vcard")
    card = vobject.readOne(response.content.decode())
    assert card.fn.value == "Jane Doe"
    assert card.n.value.family == "Doe" and card.n.value.given == "Jane"
    assert card.org.value == ["Acme"]
    other = contact_create(
        actor=personas.owner,
        fields={"first_name": "Max", "last_name": "Roe"},
        emails=[{"email": "max@example.com"}],
    )
    many = client.get(f"/contacts/vcards.vcf?id={contact.pk}&id={other.pk}&id={hidden.pk}")
    cards = list(vobject.readComponents(many.content.decode()))
    assert sorted(c.fn.value for c in cards) == ["Jane Doe", "Max Roe"]
    roe = next(c for c in cards if c.fn.value == "Max Roe")
    assert roe.email.value == "max@example.com"
    assert client.get(f"/contacts/{hidden.pk}/vcard.vcf").status_code == 404


def test_vcards_from_the_list_selection(personas, contact):
    client = Client()
    client.force_login(personas.owner)
    page = client.get("/contacts/")
    assert "Export vCards" in page.content.decode()
    response = client.post("/contacts/vcards.vcf", {"ids": [contact.pk], "action": "tag"})
    assert response.status_code == 200
    assert [c.fn.value for c in vobject.readComponents(response.content.decode())] == ["Jane Doe"]
