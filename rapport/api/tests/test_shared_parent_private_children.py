"""The authorisation matrix's "shared parent, private children" scenario (and its mirror,
"shared child, private parent").

The owner shares an account read-only with the outsider and keeps some of its contacts,
deals, calls and orders private; the owner also shares a contact whose account stays
private. Whatever the outsider reads — timelines (API and page), lists, exports, pickers,
search — must not name a record they get 404 for.
"""

import pytest
from django.test import Client

from rapport.identity.models import Role
from rapport.identity.services import user_create

pytestmark = pytest.mark.django_db

AT = "2026-01-05T10:00:00+00:00"
HIDDEN_WORDS = ("Hidden", "hidden@", "Secret", "Private Parent")


@pytest.fixture
def world(personas, api_as):
    owner = api_as(personas.owner)

    def post(path, body):
        r = owner.post(path, body)
        assert r.status_code in (200, 201), (path, r.data)
        return r.data

    def share(path, user, access="read"):
        post(f"{path}/shares", {"user_id": user.pk, "access": access})

    shared = post("/api/accounts", {"name": "Shared Parent Co"})
    share(f"/api/accounts/{shared['id']}", personas.outsider)
    hidden_contact = post(
        "/api/contacts",
        {
            "first_name": "Hidden",
            "last_name": "Person",
            "email": "hidden@example.com",
            "account_id": shared["id"],
        },
    )
    open_contact = post(
        "/api/contacts",
        {
            "first_name": "Open",
            "last_name": "Person",
            "email": "open@example.com",
            "account_id": shared["id"],
        },
    )
    share(f"/api/contacts/{open_contact['id']}", personas.outsider)
    # A share of another record ("Shared with teammate") on the account's timeline.
    other_contact = post("/api/contacts", {"last_name": "Hidden Other", "account_id": shared["id"]})
    share(f"/api/contacts/{other_contact['id']}", personas.teammate)
    deal = post(
        "/api/opportunities",
        {"name": "Secret Deal", "amount": "500.00", "account_id": shared["id"]},
    )
    r = owner.patch(f"/api/opportunities/{deal['id']}", {"amount": "700.00"})
    assert r.status_code == 200, r.data
    product = user_create(username="catalog", role=Role.ADMIN)
    item = api_as(product).post(
        "/api/products", {"sku": "HW-1", "name": "Hidden Widget", "unit_price": "10.00"}
    )
    assert item.status_code == 201, item.data
    post(f"/api/opportunities/{deal['id']}/line-items", {"product_id": item.data["id"]})
    post(
        "/api/activities",
        {"kind": "call", "subject": "Hidden call", "contact_id": hidden_contact["id"]},
    )
    post(
        "/api/activities",
        {"kind": "note", "body": "Hidden note", "opportunity_id": deal["id"]},
    )
    open_call = post(
        "/api/activities",
        {"kind": "call", "subject": "Account call", "account_id": shared["id"]},
    )
    post(
        "/api/orders",
        {
            "contact_id": hidden_contact["id"],
            "currency": "EUR",
            "ordered_at": AT,
            "lines": [{"description": "Hidden order line", "quantity": "1", "unit_price": "5"}],
        },
    )
    private_parent = post("/api/accounts", {"name": "Private Parent Inc"})
    shared_child = post(
        "/api/contacts",
        {
            "first_name": "Shared",
            "last_name": "Child",
            "email": "child@example.com",
            "account_id": private_parent["id"],
        },
    )
    share(f"/api/contacts/{shared_child['id']}", personas.outsider)
    # An order on the shared account naming the private contact.
    post(
        "/api/orders",
        {
            "account_id": shared["id"],
            "contact_id": hidden_contact["id"],
            "currency": "EUR",
            "ordered_at": AT,
            "lines": [{"description": "Widget", "quantity": "1", "unit_price": "5"}],
        },
    )
    return {
        "shared": shared,
        "hidden_contact": hidden_contact,
        "open_contact": open_contact,
        "other_contact": other_contact,
        "deal": deal,
        "open_call": open_call,
        "private_parent": private_parent,
        "shared_child": shared_child,
    }


def _download(user, path: str) -> str:
    """A streamed export's text, fetched with a session (the API accepts both)."""
    client = Client()
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200, path
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return body.decode()


def _leaks(text: str) -> list[str]:
    return [word for word in HIDDEN_WORDS if word in text]


# ----- timelines ------------------------------------------------------------------------


def test_reader_of_shared_account_sees_no_event_about_its_private_children(world, personas, api_as):
    r = api_as(personas.outsider).get(f"/api/accounts/{world['shared']['id']}/timeline")
    assert r.status_code == 200
    items = r.data["items"]
    assert not _leaks(r.content.decode()), [e["summary"] for e in items]
    assert r.data["count"] == len(items)
    subjects = {(e["kind"], e["contact_id"], e["opportunity_id"], e["activity_id"]) for e in items}
    shared_id = world["shared"]["id"]
    assert ("created", None, None, None) in subjects  # the account itself
    assert ("created", world["open_contact"]["id"], None, None) in subjects  # shared contact
    assert ("activity_logged", None, None, world["open_call"]["id"]) in subjects
    assert all(e["opportunity_id"] is None for e in items)
    assert {e["account_id"] for e in items} == {shared_id}


def test_owner_and_admin_still_see_every_event_of_the_account(world, personas, api_as):
    path = f"/api/accounts/{world['shared']['id']}/timeline"
    owner = api_as(personas.owner).get(path, limit="200").data
    admin = api_as(personas.admin).get(path, limit="200").data
    assert owner["count"] == admin["count"]
    assert [e["id"] for e in owner["items"]] == [e["id"] for e in admin["items"]]
    kinds = {e["kind"] for e in owner["items"]}
    assert {"created", "updated", "shared", "activity_logged", "order_placed"} <= kinds


def test_account_page_timeline_hides_private_children(world, personas, client):
    client.force_login(personas.outsider)
    r = client.get(f"/accounts/{world['shared']['id']}/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Account call" in html
    timeline = html[html.index('id="timeline"') :]
    assert not _leaks(timeline)


def test_timeline_query_count_does_not_grow_with_events(world, personas, api_as):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = api_as(personas.outsider)
    path = f"/api/accounts/{world['shared']['id']}/timeline"
    api.get(path)
    with CaptureQueriesContext(connection) as few:
        api.get(path)
    for n in range(10):
        api_as(personas.owner).post(
            "/api/activities",
            {"kind": "call", "subject": f"Hidden {n}", "contact_id": world["hidden_contact"]["id"]},
        )
        api_as(personas.owner).post(
            "/api/activities",
            {"kind": "call", "subject": f"Open {n}", "account_id": world["shared"]["id"]},
        )
    with CaptureQueriesContext(connection) as many:
        r = api.get(path)
    assert not _leaks(r.content.decode())
    assert len(many.captured_queries) == len(few.captured_queries)


# ----- embedded names and emails ------------------------------------------------------------


def test_api_names_no_private_parent_of_a_shared_child(world, personas, api_as):
    api = api_as(personas.outsider)
    child = world["shared_child"]
    assert api.get(f"/api/accounts/{world['private_parent']['id']}").status_code == 404
    detail = api.get(f"/api/contacts/{child['id']}")
    assert detail.status_code == 200
    assert detail.data["account_id"] == world["private_parent"]["id"]  # the link stays
    assert detail.data["account_name"] is None
    listed = api.get("/api/contacts", limit="200")
    names = {row["id"]: row["account_name"] for row in listed.data["items"]}
    assert names[child["id"]] is None
    assert names[world["open_contact"]["id"]] == "Shared Parent Co"
    assert not _leaks(listed.content.decode())
    # The owner still sees the name.
    mine = api_as(personas.owner).get(f"/api/contacts/{child['id']}")
    assert mine.data["account_name"] == "Private Parent Inc"


@pytest.mark.parametrize(
    "path", ["/api/exports/contacts", "/api/exports/orders", "/api/exports/activities"]
)
def test_exports_name_no_private_linked_record(world, personas, path):
    text = _download(personas.outsider, path)
    assert not _leaks(text), text
    assert _leaks(_download(personas.owner, path))


def test_orders_export_shows_no_email_of_a_private_contact(world, personas, api_as):
    text = _download(personas.outsider, "/api/exports/orders")
    rows = [line for line in text.splitlines()[1:] if line.strip()]
    assert rows, text  # the order on the shared account is exported ...
    assert all("hidden@example.com" not in row for row in rows)  # ... without the email
    assert "hidden@example.com" in _download(personas.owner, "/api/exports/orders")


def test_contact_list_and_its_csv_name_no_private_account(world, personas, client):
    client.force_login(personas.outsider)
    page = client.get("/contacts/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Shared Child" in html.replace("</a>", "") or "Child" in html
    assert "Private Parent" not in html
    assert "not visible to you" in html
    text = _download(personas.outsider, "/contacts/export.csv")
    assert "Child" in text and "Private Parent" not in text


def test_pickers_and_search_name_no_private_account(world, personas, client, api_as):
    client.force_login(personas.outsider)
    for url in (
        "/pick/contact?q=Child",
        "/search/suggest?q=Child",
        "/search?q=Child",
    ):
        r = client.get(url)
        assert r.status_code == 200, url
        html = r.content.decode()
        assert "Child" in html, url
        assert "Private Parent" not in html, url
    api = api_as(personas.outsider).get("/api/search", q="Child")
    assert api.status_code == 200
    assert "Private Parent" not in api.content.decode()
    assert "Child" in api.content.decode()
    owner = api_as(personas.owner).get("/api/search", q="Child")
    assert "Private Parent Inc" in owner.content.decode()


def test_opportunity_of_a_private_account_names_no_account(personas, api_as, client):
    owner = api_as(personas.owner)
    account = owner.post("/api/accounts", {"name": "Private Parent Inc"}).data
    deal = owner.post(
        "/api/opportunities", {"name": "Shared Deal", "amount": "1.00", "account_id": account["id"]}
    ).data
    owner.post(f"/api/opportunities/{deal['id']}/shares", {"user_id": personas.outsider.pk})
    api = api_as(personas.outsider)
    assert api.get(f"/api/opportunities/{deal['id']}").data["account_name"] is None
    export = _download(personas.outsider, "/api/exports/opportunities")
    assert "Shared Deal" in export and "Private Parent" not in export
    client.force_login(personas.outsider)
    for url in (f"/opportunities/{deal['id']}/", "/opportunities/", "/opportunities/board"):
        r = client.get(url)
        assert r.status_code == 200, url
        assert "Private Parent" not in r.content.decode(), url


def test_dashboard_recent_activity_shows_no_event_about_someone_elses_private_deal(
    personas, api_as
):
    from rapport.web import dashboard

    owner = api_as(personas.owner)
    account = owner.post("/api/accounts", {"name": "Owner Co"}).data
    owner.post(
        f"/api/accounts/{account['id']}/shares",
        {"user_id": personas.outsider.pk, "access": "edit"},
    )
    deal = api_as(personas.outsider).post(
        "/api/opportunities",
        {"name": "Secret Deal", "amount": "5.00", "account_id": account["id"]},
    )
    assert deal.status_code == 201, deal.data
    summaries = [e.summary for e in dashboard.recent_events(user=personas.owner)]
    assert "Created Owner Co" in summaries
    assert not [s for s in summaries if "Secret" in s]
    mine = [e.summary for e in dashboard.recent_events(user=personas.outsider)]
    assert "Created Secret Deal" in mine


def test_accounts_export_names_no_private_parent_account(personas, api_as):
    owner = api_as(personas.owner)
    parent = owner.post("/api/accounts", {"name": "Private Parent Inc"}).data
    child = owner.post("/api/accounts", {"name": "Shared Subsidiary", "parent_id": parent["id"]})
    assert child.status_code == 201, child.data
    owner.post(f"/api/accounts/{child.data['id']}/shares", {"user_id": personas.outsider.pk})
    text = _download(personas.outsider, "/api/exports/accounts")
    assert "Shared Subsidiary" in text and "Private Parent" not in text
    assert "Private Parent Inc" in _download(personas.owner, "/api/exports/accounts")
