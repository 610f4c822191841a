"""The Access panel of record pages: who a record is shared with, sharing with a user or a
team (read or edit), removing a share and transferring ownership, in place with htmx and
with plain forms; generic over accounts, contacts, leads and opportunities."""

from decimal import Decimal

import pytest

from rapport.accounts.models import Account
from rapport.accounts.services import account_create, contact_create
from rapport.identity.services import user_create
from rapport.leads.services import lead_create
from rapport.records.models import RecordShare
from rapport.records.services import record_share
from rapport.sales.services import opportunity_create
from rapport.timeline.models import EventKind, TimelineEvent
from rapport.web.links import record_url
from rapport.web.testing import HTMX, count_queries, field_error, text_of, ui_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(personas):
    return account_create(actor=personas.owner, fields={"name": "Shared Co"})


def url(record, action="access", *extra) -> str:
    base = f"/records/{record.OBJECT_TYPE}/{record.pk}"
    return {
        "access": f"{base}/access",
        "add": f"{base}/shares",
        "remove": f"{base}/shares/{extra[0] if extra else 0}/remove",
        "owner": f"{base}/owner",
    }[action]


def test_record_page_shows_the_access_panel_and_header_actions_to_editors(personas, account):
    record_share(record=account, actor=personas.owner, user=personas.teammate, access="read")
    page = text_of(ui_client(personas.owner).get(f"/accounts/{account.pk}/"))
    assert 'id="record-access"' in page
    assert "teammate" in page and '<span class="badge">Read</span>' in page
    assert f'hx-get="{url(account)}?manage=1"' in page  # Manage
    assert f'hx-get="{url(account)}?manage=1&amp;focus=share"' in page  # header: Share
    assert f'hx-get="{url(account)}?manage=1&amp;focus=transfer"' in page  # Transfer owner
    reader = text_of(ui_client(personas.teammate).get(f"/accounts/{account.pk}/"))
    assert "Shared Co" in reader and 'id="record-access"' in reader
    assert "?manage=1" not in reader and "Transfer owner" not in reader


def test_manage_mode_brings_the_forms_in_place(personas, account):
    response = ui_client(personas.owner).get(url(account) + "?manage=1&focus=share", headers=HTMX)
    body = text_of(response)
    assert body.startswith('<section class="detail-group access-panel" id="record-access"')
    assert f'hx-post="{url(account, "add")}"' in body
    assert f'hx-post="{url(account, "owner")}"' in body
    assert '<optgroup label="People">' in body and '<optgroup label="Teams">' in body
    assert "Team B" in body and "outsider" in body
    assert 'name="target" autofocus' in body
    # The owner is not offered as a share target, nor a deactivated user.
    people = body.split('<optgroup label="People">')[1].split("</optgroup>")[0]
    assert "Olga Owner" not in people and "deactivated" not in people


def test_sharing_with_a_user_in_place_lists_it_logs_it_and_grants_access(personas, account):
    assert ui_client(personas.teammate).get(f"/accounts/{account.pk}/").status_code == 404
    response = ui_client(personas.owner).post(
        url(account, "add"),
        {"target": f"user:{personas.teammate.pk}", "access": "edit"},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "timeline-changed"
    body = text_of(response)
    assert "Shared with teammate (edit)." in body  # the toast
    assert '<span class="share-who">teammate</span> <span class="badge">Edit</span>' in body
    share = RecordShare.objects.get(object_type="account", object_id=account.pk)
    assert (share.user, share.access) == (personas.teammate, "edit")
    assert TimelineEvent.objects.filter(account=account, kind=EventKind.SHARED).exists()
    assert ui_client(personas.teammate).get(f"/accounts/{account.pk}/").status_code == 200


def test_sharing_with_a_team_and_sharing_again_changes_the_access(personas, account):
    client = ui_client(personas.owner)
    target = f"team:{personas.team_b.pk}"
    client.post(url(account, "add"), {"target": target, "access": "read"}, headers=HTMX)
    body = text_of(
        client.post(url(account, "add"), {"target": target, "access": "edit"}, headers=HTMX)
    )
    assert "Team Team B" in body
    share = RecordShare.objects.get(object_type="account", object_id=account.pk)
    assert (share.team, share.access) == (personas.team_b, "edit")
    assert ui_client(personas.outsider).get(f"/accounts/{account.pk}/").status_code == 200


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"target": "", "access": "read"}, "target", "This field is required."),
        ({"target": "user:999999", "access": "read"}, "target", "Select a valid choice."),
        ({"target": "robot:1", "access": "read"}, "target", "Select a valid choice."),
        ({"target": "user:{owner}", "access": "read"}, "target", "Select a valid choice."),
        ({"target": "user:{teammate}", "access": "admin"}, "access", "Select a valid choice."),
    ],
)
def test_bad_share_input_is_a_422_with_the_error_next_to_the_field(
    personas, account, data, field, message
):
    data = {
        k: v.format(owner=personas.owner.pk, teammate=personas.teammate.pk) for k, v in data.items()
    }
    response = ui_client(personas.owner).post(url(account, "add"), data, headers=HTMX)
    assert response.status_code == 422
    assert field_error(response, message)
    assert f'id="share-{field}"' in text_of(response)
    assert not RecordShare.objects.exists()


def test_removing_a_share_in_place(personas, account):
    share = record_share(record=account, actor=personas.owner, user=personas.teammate)
    response = ui_client(personas.owner).post(
        url(account, "remove", share.pk), {"manage": "1"}, headers=HTMX
    )
    assert response.status_code == 200
    assert "Share removed." in text_of(response)
    assert "Nobody else" in text_of(response)
    assert not RecordShare.objects.exists()
    assert TimelineEvent.objects.filter(account=account, kind=EventKind.UNSHARED).exists()
    again = ui_client(personas.owner).post(url(account, "remove", share.pk), headers=HTMX)
    assert again.status_code == 404


def test_a_share_of_another_record_cannot_be_removed_through_this_one(personas, account):
    other = account_create(actor=personas.owner, fields={"name": "Other Co"})
    share = record_share(record=other, actor=personas.owner, user=personas.teammate)
    response = ui_client(personas.owner).post(url(account, "remove", share.pk), headers=HTMX)
    assert response.status_code == 404
    assert RecordShare.objects.filter(pk=share.pk).exists()


def test_who_may_manage_access(personas, account):
    share = record_share(record=account, actor=personas.owner, user=personas.reader, access="read")
    add = {"target": f"user:{personas.teammate.pk}", "access": "read"}
    transfer = {"new_owner": personas.teammate.pk, "version": account.version}
    # Not visible: 404 everywhere.
    for user in (personas.outsider, personas.teammate, personas.deactivated):
        client = ui_client(user)
        assert client.get(url(account)).status_code in (404, 302), user
        assert client.post(url(account, "add"), add).status_code in (404, 302), user
    # Visible but not editable (a read share; a read-only user): 403 on writes, no forms.
    reader = ui_client(personas.reader)
    assert "Share this record" not in text_of(reader.get(url(account) + "?manage=1"))
    assert reader.post(url(account, "add"), add).status_code == 403
    assert reader.post(url(account, "remove", share.pk)).status_code == 403
    assert reader.post(url(account, "owner"), transfer).status_code == 403
    # The manager of the owner's team may.
    manager = ui_client(personas.manager)
    assert manager.post(url(account, "add"), add, headers=HTMX).status_code == 200
    # Anonymous: to the sign-in page.
    response = ui_client().get(url(account))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert ui_client(personas.owner).get(url(account, "add")).status_code == 405


def test_unknown_record_types_and_ids_are_404(personas, account):
    client = ui_client(personas.owner)
    assert client.get(f"/records/order/{account.pk}/access").status_code == 404
    assert client.get("/records/account/99999999/access").status_code == 404


def test_transferring_ownership_redirects_to_the_record_with_the_new_owner(personas, account):
    client = ui_client(personas.manager)
    response = client.post(
        url(account, "owner"),
        {"new_owner": personas.teammate.pk, "version": account.version},
        headers=HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/accounts/{account.pk}/"
    account.refresh_from_db()
    assert (account.owner, account.team) == (personas.teammate, personas.team_a)
    assert TimelineEvent.objects.filter(account=account, kind=EventKind.OWNER_CHANGED).exists()
    assert "Shared Co now belongs to teammate." in text_of(client.get(f"/accounts/{account.pk}/"))


def test_giving_a_record_away_leaves_for_the_list_when_it_is_no_longer_visible(personas, account):
    client = ui_client(personas.owner)
    response = client.post(
        url(account, "owner"), {"new_owner": personas.outsider.pk, "version": account.version}
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/"
    account.refresh_from_db()
    assert account.owner == personas.outsider and account.team == personas.team_b
    assert "it is no longer visible to you" in text_of(client.get("/accounts/"))
    assert client.get(f"/accounts/{account.pk}/").status_code == 404


def test_a_stale_transfer_changes_nothing_and_says_why(personas, account):
    Account.objects.filter(pk=account.pk).update(version=7)
    response = ui_client(personas.owner).post(
        url(account, "owner"), {"new_owner": personas.manager.pk, "version": 1}, headers=HTMX
    )
    assert response.status_code == 409
    assert "Someone else changed this record" in text_of(response)
    assert 'name="version" value="7"' in text_of(response)  # the fresh version, to retry
    account.refresh_from_db()
    assert account.owner == personas.owner


def test_transfer_to_a_deactivated_user_or_nobody_is_refused_next_to_the_field(personas, account):
    client = ui_client(personas.owner)
    for new_owner in (personas.deactivated.pk, ""):
        response = client.post(
            url(account, "owner"),
            {"new_owner": new_owner, "version": account.version},
            headers=HTMX,
        )
        assert response.status_code == 422
        assert 'class="field-error"' in text_of(response)
        assert 'id="transfer-new_owner"' in text_of(response)
    account.refresh_from_db()
    assert account.owner == personas.owner


def test_plain_forms_work_without_javascript(personas, account):
    client = ui_client(personas.owner)
    page = text_of(client.get(url(account) + "?manage=1"))
    assert "Who sees “Shared Co”" in page and f'href="/accounts/{account.pk}/"' in page
    assert f'action="{url(account, "add")}"' in page and 'method="post"' in page
    response = client.post(
        url(account, "add"), {"target": f"team:{personas.team_b.pk}", "access": "read"}
    )
    assert response.status_code == 302 and response["Location"] == url(account) + "?manage=1"
    assert "Shared with team Team B (read)." in text_of(client.get(response["Location"]))
    bad = client.post(url(account, "add"), {"target": "", "access": "read"})
    assert bad.status_code == 422 and "<html" in text_of(bad)


@pytest.mark.parametrize("kind", ["account", "contact", "lead", "opportunity"])
def test_every_owned_record_type_can_be_shared(personas, kind):
    owner = personas.owner
    record = {
        "account": lambda: account_create(actor=owner, fields={"name": "Generic Co"}),
        "contact": lambda: contact_create(actor=owner, fields={"last_name": "Generic"}),
        "lead": lambda: lead_create(actor=owner, fields={"last_name": "Generic"}),
        "opportunity": lambda: opportunity_create(
            actor=owner, fields={"name": "Generic deal", "amount": Decimal("1")}
        ),
    }[kind]()
    client = ui_client(owner)
    response = client.post(
        url(record, "add"),
        {"target": f"user:{personas.teammate.pk}", "access": "read"},
        headers=HTMX,
    )
    assert response.status_code == 200, kind
    assert RecordShare.objects.filter(object_type=kind, object_id=record.pk).exists()
    assert "teammate" in text_of(client.get(url(record)))
    # The record's own page carries the panel and the header's actions.
    page = text_of(client.get(record_url(record)))
    assert 'id="record-access"' in page and "teammate" in page
    assert f'hx-get="{url(record)}?manage=1&amp;focus=transfer"' in page


def test_access_panel_runs_a_fixed_number_of_queries(personas, account):
    client = ui_client(personas.owner)

    def share_with(n: int, start: int):
        for i in range(start, start + n):
            user = user_create(username=f"colleague{i}", team=personas.team_b)
            record_share(record=account, actor=personas.owner, user=user)

    share_with(3, 0)
    client.get(url(account) + "?manage=1", headers=HTMX)
    few = count_queries(lambda: client.get(url(account) + "?manage=1", headers=HTMX))
    few_page = count_queries(lambda: client.get(f"/accounts/{account.pk}/"))
    share_with(17, 3)
    many = count_queries(lambda: client.get(url(account) + "?manage=1", headers=HTMX))
    many_page = count_queries(lambda: client.get(f"/accounts/{account.pk}/"))
    assert few == many and few_page == many_page
    assert many <= 12
