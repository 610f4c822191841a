"""Account pages: who sees and changes what, forms, inline edits, composer, bulk, CSV."""

import pytest

from rapport.accounts.models import Account
from rapport.accounts.services import account_create, account_update, contact_create
from rapport.activities.models import Activity
from rapport.records.custom_fields import custom_field_define
from rapport.records.services import record_share
from rapport.timeline.models import TimelineEvent
from rapport.web.testing import HTMX, count_queries, csv_rows, field_error, text_of, ui_client

pytestmark = pytest.mark.django_db


def _account(owner, name="Acme", **fields):
    return account_create(actor=owner, fields={"name": name, **fields})


# ----- access -------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(personas):
    account = _account(personas.owner)
    for url in ("/", "/accounts/", f"/accounts/{account.pk}/", "/search?q=a", "/me/tokens/"):
        r = ui_client().get(url)
        assert r.status_code == 302, url
        assert r["Location"].startswith("/login/?next="), url


def test_owner_sees_account_in_list_and_outsider_does_not(personas):
    _account(personas.owner, "Visible Co")
    assert "Visible Co" in text_of(ui_client(personas.owner).get("/accounts/"))
    assert "Visible Co" in text_of(ui_client(personas.manager).get("/accounts/"))
    page = text_of(ui_client(personas.outsider).get("/accounts/"))
    assert "Visible Co" not in page
    assert "No accounts match" in page


def test_outsider_gets_404_on_every_account_url(personas):
    account = _account(personas.owner)
    client = ui_client(personas.outsider)
    base = f"/accounts/{account.pk}/"
    for url in (base, base + "edit", base + "fields/name/?edit=1", base + "timeline"):
        assert client.get(url).status_code == 404, url
    for url in (base + "fields/name/", base + "composer", base + "delete"):
        assert client.post(url, {"value": "x", "version": 1}).status_code == 404, url
    assert Account.objects.get(pk=account.pk).name == "Acme"


def test_not_found_page_is_the_shell_404(personas):
    r = ui_client(personas.owner).get("/accounts/999999/")
    assert r.status_code == 404
    assert "Not found" in text_of(r)


def test_reader_sees_page_without_edit_controls_and_cannot_post(personas):
    account = _account(personas.owner)
    record_share(record=account, actor=personas.owner, user=personas.reader, access="edit")
    client = ui_client(personas.reader)
    page = client.get(f"/accounts/{account.pk}/")
    assert page.status_code == 200
    assert f"/accounts/{account.pk}/edit" not in text_of(page)
    r = client.post(f"/accounts/{account.pk}/fields/name/", {"value": "Hacked", "version": 1})
    assert r.status_code == 403
    assert client.get(f"/accounts/{account.pk}/edit").status_code == 403
    assert Account.objects.get(pk=account.pk).name == "Acme"


# ----- create, edit, delete -------------------------------------------------------------


def test_create_form_shows_errors_next_to_fields(personas):
    client = ui_client(personas.owner)
    r = client.post(
        "/accounts/new",
        {"name": "", "website": "not a url", "currency": "EURX", "owner": personas.owner.pk},
    )
    assert r.status_code == 422
    assert field_error(r, "This field is required")
    assert field_error(r, "Enter a valid URL")
    assert field_error(r, "“EURX” is not a currency")
    assert not Account.objects.exists()


def test_create_form_creates_account_with_owner_and_tags(personas):
    client = ui_client(personas.owner)
    r = client.post(
        "/accounts/new",
        {
            "name": "Globex",
            "website": "globex.example",
            "currency": "eur",
            "owner": personas.teammate.pk,
            "tags": "vip, partner",
            "country": "de",
        },
    )
    account = Account.objects.get(name="Globex")
    assert r.status_code == 302
    assert r["Location"] == f"/accounts/{account.pk}/"
    assert account.owner == personas.teammate
    assert account.domain == "globex.example"
    assert account.country == "DE"
    assert sorted(t.name for t in account.tags.all()) == ["partner", "vip"]


def test_custom_field_errors_land_next_to_the_custom_field(personas):
    custom_field_define(object_type="account", key="tier", label="Tier", field_type="number")
    custom_field_define(
        object_type="account", key="segment", label="Segment", field_type="text", required=True
    )
    r = ui_client(personas.owner).post(
        "/accounts/new",
        {"name": "X", "currency": "EUR", "owner": personas.owner.pk, "cf_tier": "3"},
    )
    assert r.status_code == 422
    assert field_error(r, "is required")
    assert 'id="id_cf_segment"' in text_of(r)


def test_edit_with_stale_version_says_someone_else_changed_it(personas):
    account = _account(personas.owner)
    client = ui_client(personas.owner)
    form_version = account.version
    account_update(account=account, actor=personas.manager, fields={"industry": "Retail"})
    r = client.post(
        f"/accounts/{account.pk}/edit",
        {
            "name": "Renamed",
            "currency": "EUR",
            "owner": personas.owner.pk,
            "version": form_version,
        },
    )
    assert r.status_code == 422
    assert "Someone else changed this record" in text_of(r)
    account.refresh_from_db()
    assert account.name == "Acme"
    assert account.industry == "Retail"


def test_delete_moves_to_trash_and_restore_brings_it_back(personas):
    account = _account(personas.owner, "Bin Me")
    client = ui_client(personas.owner)
    r = client.post(f"/accounts/{account.pk}/delete")
    assert r.status_code == 302
    assert f'href="/accounts/{account.pk}/">Bin Me</a>' not in text_of(client.get("/accounts/"))
    trash = text_of(client.get("/accounts/trash"))
    assert "Bin Me" in trash
    assert ui_client(personas.outsider).post(f"/accounts/{account.pk}/restore").status_code == 404
    r = client.post(f"/accounts/{account.pk}/restore")
    assert r.status_code == 302
    assert "Bin Me" in text_of(client.get("/accounts/"))


def test_delete_toast_offers_undo(personas):
    account = _account(personas.owner, "Undo Me")
    r = ui_client(personas.owner).post(f"/accounts/{account.pk}/delete", follow=True)
    assert f'action="/accounts/{account.pk}/restore"' in text_of(r)


# ----- inline edit ------------------------------------------------------------------------


def test_inline_edit_saves_and_returns_the_field_fragment(personas):
    account = _account(personas.owner)
    client = ui_client(personas.owner)
    form = client.get(f"/accounts/{account.pk}/fields/industry/?edit=1", headers=HTMX)
    assert form.status_code == 200
    assert 'name="value"' in text_of(form)
    r = client.post(
        f"/accounts/{account.pk}/fields/industry/",
        {"value": "Aerospace", "version": account.version},
        headers=HTMX,
    )
    assert r.status_code == 200
    body = text_of(r)
    assert "Aerospace" in body
    assert 'id="field-industry"' in body
    assert 'id="record-version"' in body and 'hx-swap-oob="true"' in body
    assert "Industry saved" in body  # the toast, swapped out of band
    account.refresh_from_db()
    assert account.industry == "Aerospace"
    assert account.version == 2


def test_inline_edit_with_stale_version_is_refused_with_a_clear_message(personas):
    account = _account(personas.owner)
    account_update(account=account, actor=personas.manager, fields={"industry": "Retail"})
    r = ui_client(personas.owner).post(
        f"/accounts/{account.pk}/fields/industry/",
        {"value": "Mine", "version": 1},
        headers=HTMX,
    )
    assert r.status_code == 409
    assert "Someone else changed this record" in text_of(r)
    account.refresh_from_db()
    assert account.industry == "Retail"


def test_inline_edit_shows_service_errors_next_to_the_input(personas):
    account = _account(personas.owner)
    client = ui_client(personas.owner)
    r = client.post(
        f"/accounts/{account.pk}/fields/website/", {"value": "nope", "version": 1}, headers=HTMX
    )
    assert r.status_code == 422
    assert field_error(r, "Enter a valid URL")
    r = client.post(f"/accounts/{account.pk}/fields/name/", {"value": "", "version": 1})
    assert r.status_code == 422
    assert Account.objects.get(pk=account.pk).name == "Acme"


def test_inline_edit_of_owner_and_tags_and_custom_field(personas):
    custom_field_define(object_type="account", key="tier", label="Tier", field_type="number")
    account = _account(personas.owner)
    client = ui_client(personas.owner)
    url = f"/accounts/{account.pk}/fields/"
    assert client.post(url + "tags/", {"value": "a, b", "version": 1}).status_code == 200
    assert client.post(url + "cf_tier/", {"value": "7", "version": 2}).status_code == 200
    r = client.post(url + "owner/", {"value": personas.teammate.pk, "version": 3}, headers=HTMX)
    assert r.status_code == 200
    assert r["HX-Redirect"] == "/accounts/"  # given away: the owner no longer sees it
    account.refresh_from_db()
    assert sorted(t.name for t in account.tags.all()) == ["a", "b"]
    assert account.custom == {"tier": 7}
    assert account.owner == personas.teammate


def test_unknown_inline_field_is_404(personas):
    account = _account(personas.owner)
    assert ui_client(personas.owner).get(f"/accounts/{account.pk}/fields/nope/").status_code == 404


# ----- composer and timeline ----------------------------------------------------------------


def test_composer_logs_a_call_and_returns_the_refreshed_timeline(personas):
    account = _account(personas.owner)
    client = ui_client(personas.owner)
    r = client.post(
        f"/accounts/{account.pk}/composer",
        {
            "kind": "call",
            "subject": "Intro call",
            "direction": "outbound",
            "outcome": "connected",
            "duration_minutes": "12",
            "body": "Talked budgets",
        },
        headers=HTMX,
    )
    assert r.status_code == 200, text_of(r)
    activity = Activity.objects.get()
    assert (activity.kind, activity.account_id, activity.duration_seconds) == (
        "call",
        account.pk,
        720,
    )
    body = text_of(r)
    assert 'id="timeline-list"' in body and 'hx-swap-oob="true"' in body
    assert "Intro call" in body and "Talked budgets" in body
    page = text_of(client.get(f"/accounts/{account.pk}/"))
    assert "Call: Intro call" in page
    assert "12 min" in page


def test_composer_without_javascript_redirects_back_to_the_timeline(personas):
    account = _account(personas.owner)
    r = ui_client(personas.owner).post(
        f"/accounts/{account.pk}/composer", {"kind": "note", "body": "Plain form post"}
    )
    assert r.status_code == 302
    assert r["Location"] == f"/accounts/{account.pk}/#timeline"
    assert Activity.objects.get().body == "Plain form post"


def test_composer_errors_show_next_to_the_field(personas):
    account = _account(personas.owner)
    client = ui_client(personas.owner)
    r = client.post(f"/accounts/{account.pk}/composer", {"kind": "note", "body": ""}, headers=HTMX)
    assert r.status_code == 422
    assert field_error(r, "This field is required")
    r = client.post(
        f"/accounts/{account.pk}/composer",
        {
            "kind": "meeting",
            "subject": "Kick-off",
            "starts_at": "2030-01-02T10:00",
            "ends_at": "2030-01-02T09:00",
        },
        headers=HTMX,
    )
    assert r.status_code == 422
    assert field_error(r, "must end after it starts")
    r = client.post(f"/accounts/{account.pk}/composer", {"kind": "note", "body": ""})
    assert r.status_code == 422  # the whole page, for a browser without JavaScript
    assert "<html" in text_of(r)
    assert not Activity.objects.exists()


def test_composer_schedules_a_task_and_a_meeting(personas):
    account = _account(personas.owner)
    client = ui_client(personas.owner)
    url = f"/accounts/{account.pk}/composer"
    assert client.get(url + "?kind=task", headers=HTMX).status_code == 200
    client.post(url, {"kind": "task", "subject": "Send offer", "priority": "high"}, headers=HTMX)
    client.post(
        url,
        {"kind": "meeting", "subject": "Demo", "starts_at": "2030-01-02T10:00"},
        headers=HTMX,
    )
    kinds = sorted(Activity.objects.values_list("kind", flat=True))
    assert kinds == ["meeting", "task"]
    assert client.get(url + "?kind=nope").status_code == 404


def test_reader_cannot_log_activities(personas):
    account = _account(personas.owner)
    record_share(record=account, actor=personas.owner, user=personas.reader, access="edit")
    r = ui_client(personas.reader).post(
        f"/accounts/{account.pk}/composer", {"kind": "note", "body": "x"}, headers=HTMX
    )
    assert r.status_code == 403
    assert not Activity.objects.exists()


def test_timeline_pages_newest_first_with_load_more(personas):
    account = _account(personas.owner)
    for i in range(25):
        account_update(account=account, actor=personas.owner, fields={"industry": f"I{i}"})
    client = ui_client(personas.owner)
    page = text_of(client.get(f"/accounts/{account.pk}/"))
    assert page.count('class="event ') == 20
    assert "Load older" in page
    events = list(TimelineEvent.objects.filter(account=account).order_by("-occurred_at", "-id"))
    assert events[0].summary in page
    more_link = [
        part.split('"', 1)[0]
        for part in page.split('hx-get="')[1:]
        if part.startswith(f"/accounts/{account.pk}/timeline?cursor=")
    ]
    assert len(more_link) == 1
    rest = text_of(client.get(more_link[0].replace("&amp;", "&"), headers=HTMX))
    assert rest.count('class="event ') == len(events) - 20
    assert "Load older" not in rest
    assert client.get(f"/accounts/{account.pk}/timeline?cursor=garbage").status_code == 400


# ----- escaping -----------------------------------------------------------------------------


def test_user_text_is_escaped_everywhere(personas):
    evil = "<script>alert(1)</script>"
    account = _account(personas.owner, evil, industry=evil)
    contact = contact_create(actor=personas.owner, fields={"last_name": evil, "account": account})
    client = ui_client(personas.owner)
    client.post(f"/accounts/{account.pk}/composer", {"kind": "note", "body": f"<b>hi</b>{evil}"})
    for url in (
        "/accounts/",
        "/contacts/",
        f"/accounts/{account.pk}/",
        f"/contacts/{contact.pk}/",
        "/search?q=script",
    ):
        body = text_of(client.get(url))
        assert "<script>alert(1)</script>" not in body, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, url
    assert "&lt;b&gt;hi&lt;/b&gt;" in text_of(client.get(f"/accounts/{account.pk}/"))


# ----- related lists -----------------------------------------------------------------------


def test_account_page_lists_its_visible_contacts(personas):
    account = _account(personas.owner, "Parent")
    contact_create(actor=personas.owner, fields={"last_name": "Mine", "account": account})
    contact_create(actor=personas.owner, fields={"last_name": "Other", "account": None})
    page = text_of(ui_client(personas.owner).get(f"/accounts/{account.pk}/"))
    assert "Mine" in page
    assert f"/contacts/new?account={account.pk}" in page
    assert ">Other<" not in page


# ----- query counts --------------------------------------------------------------------------


def _list_queries(client, url):
    return count_queries(lambda: client.get(url))


def test_account_list_has_no_n_plus_one(personas):
    client = ui_client(personas.owner)
    for i in range(3):
        account_create(actor=personas.owner, fields={"name": f"A{i}"}, tags=["x", f"t{i}"])
    url = "/accounts/?cols=name,owner,team,tags,revenue,created"
    client.get(url)  # warm the session and caches
    few = _list_queries(client, url)
    for i in range(3, 20):
        account_create(actor=personas.owner, fields={"name": f"A{i}"}, tags=["x", f"t{i}"])
    many = _list_queries(client, url)
    assert few == many, (few, many)
    assert many <= 14


def test_account_page_has_no_n_plus_one(personas):
    from rapport.activities.services import activity_log

    account = _account(personas.owner)
    client = ui_client(personas.owner)

    def grow(n):
        for i in range(n):
            contact_create(actor=personas.owner, fields={"last_name": f"C{i}", "account": account})
            activity_log(
                actor=personas.owner,
                kind="note",
                fields={"body": f"note {i}"},
                links={"account_id": account.pk},
            )

    grow(3)
    url = f"/accounts/{account.pk}/"
    client.get(url)
    few = count_queries(lambda: client.get(url))
    grow(17)
    many = count_queries(lambda: client.get(url))
    assert few == many, (few, many)


# ----- bulk actions and export -------------------------------------------------------------


def test_bulk_assign_only_touches_records_the_user_may_change(personas):
    mine = _account(personas.owner, "Mine")
    teammates = _account(personas.teammate, "Teammate's")
    outsiders = _account(personas.outsider, "Outsider's")
    r = ui_client(personas.owner).post(
        "/accounts/bulk",
        {
            "action": "assign",
            "owner_id": personas.manager.pk,
            "ids": [mine.pk, teammates.pk, outsiders.pk],
            "next": "/accounts/?tag=x",
        },
    )
    assert r.status_code == 302
    assert r["Location"] == "/accounts/?tag=x"
    owners = dict(Account.objects.values_list("name", "owner__username"))
    assert owners == {"Mine": "manager", "Teammate's": "teammate", "Outsider's": "outsider"}


def test_bulk_tag_and_delete(personas):
    a = _account(personas.owner, "One")
    b = _account(personas.owner, "Two")
    client = ui_client(personas.owner)
    client.post("/accounts/bulk", {"action": "tag", "tag": "hot", "ids": [a.pk, b.pk]})
    assert {t.name for t in Account.objects.get(pk=a.pk).tags.all()} == {"hot"}
    r = client.post("/accounts/bulk", {"action": "delete", "ids": [a.pk]}, follow=True)
    assert "1 account moved to the trash" in text_of(r)
    assert list(Account.objects.values_list("name", flat=True)) == ["Two"]


def test_reader_bulk_delete_changes_nothing(personas):
    a = _account(personas.owner, "Keep")
    record_share(record=a, actor=personas.owner, user=personas.reader, access="edit")
    r = ui_client(personas.reader).post(
        "/accounts/bulk", {"action": "delete", "ids": [a.pk]}, follow=True
    )
    assert "1 skipped" in text_of(r)
    assert Account.objects.filter(pk=a.pk).exists()


def test_bulk_form_errors_are_reported(personas):
    a = _account(personas.owner, "Keep")
    r = ui_client(personas.owner).post(
        "/accounts/bulk", {"action": "assign", "ids": [a.pk], "next": "https://evil.example/"}
    )
    assert r["Location"] == "/accounts/"
    assert Account.objects.get(pk=a.pk).owner == personas.owner


def test_csv_export_has_only_visible_rows_and_neutralises_formulas(personas):
    _account(personas.owner, '=HYPERLINK("http://x")', industry="+1", city="@cmd")
    _account(personas.owner, "-2+3", industry="\tTab")
    _account(personas.outsider, "Hidden Inc")
    r = ui_client(personas.owner).get("/accounts/export.csv?sort=name")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/csv")
    rows = csv_rows(r)
    assert rows[0][:3] == ["ID", "Name", "Industry"]
    names = [row[1] for row in rows[1:]]
    assert names == ["'-2+3", '\'=HYPERLINK("http://x")']
    assert rows[2][2] == "+1" and rows[2][3] == "'@cmd"  # "+1" is only a number
    assert rows[1][2] == "'\tTab"
    assert "Hidden Inc" not in str(rows)


def test_csv_export_follows_the_filters(personas):
    account_create(actor=personas.owner, fields={"name": "Tagged"}, tags=["vip"])
    _account(personas.owner, "Plain")
    rows = csv_rows(ui_client(personas.owner).get("/accounts/export.csv?tag=vip"))
    assert [row[1] for row in rows[1:]] == ["Tagged"]
