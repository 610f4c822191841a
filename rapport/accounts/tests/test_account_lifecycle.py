"""Closing and reopening an account: service, API (errors, If-Match, visibility), timeline
and the small page of rapport/accounts/lifecycle_views.py."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from rapport.accounts.models import Account
from rapport.accounts.services import account_close, account_create, account_reopen
from rapport.records.exceptions import Conflict
from rapport.timeline.models import TimelineEvent
from rapport.web.testing import text_of, ui_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(personas):
    return account_create(actor=personas.owner, fields={"name": "Acme"})


def test_close_and_reopen_through_the_service_write_the_timeline(personas, account):
    day = timezone.localdate() - datetime.timedelta(days=3)
    account_close(account=account, actor=personas.owner, closed_at=day, reason=" Moved away ")
    account.refresh_from_db()
    assert (account.closed_at, account.close_reason, account.version) == (day, "Moved away", 2)
    with pytest.raises(Conflict) as exc:
        account_close(account=account, actor=personas.owner, closed_at=day)
    assert exc.value.code == "account_closed"
    account_reopen(account=account, actor=personas.owner)
    account.refresh_from_db()
    assert (account.closed_at, account.close_reason, account.version) == (None, "", 3)
    with pytest.raises(Conflict):
        account_reopen(account=account, actor=personas.owner)
    events = list(TimelineEvent.objects.filter(account=account).order_by("id"))
    assert [e.payload.get("action") for e in events][-2:] == ["closed", "reopened"]
    assert "Moved away" in events[-2].summary


def test_api_close_returns_the_fields_and_a_new_etag(personas, api_as, account):
    api = api_as(personas.owner)
    day = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    r = api.post(
        f"/api/accounts/{account.pk}/close",
        {"closed_at": day, "reason": "Went bankrupt"},
        headers={"If-Match": '"1"'},
    )
    assert r.status_code == 200, r.data
    assert (r.data["closed_at"], r.data["close_reason"], r.data["version"]) == (
        day,
        "Went bankrupt",
        2,
    )
    assert r["ETag"] == '"2"'
    assert api.get(f"/api/accounts/{account.pk}").data["closed_at"] == day
    again = api.post(f"/api/accounts/{account.pk}/close", {"closed_at": day})
    assert again.status_code == 409
    assert again.data["code"] == "account_closed"
    r = api.post(f"/api/accounts/{account.pk}/reopen", {}, headers={"If-Match": '"2"'})
    assert r.status_code == 200, r.data
    assert (r.data["closed_at"], r.data["close_reason"]) == (None, "")
    r = api.post(f"/api/accounts/{account.pk}/reopen", {})
    assert r.status_code == 409
    assert r.data["code"] == "account_not_closed"


def test_api_close_errors(personas, api_as, account):
    api = api_as(personas.owner)
    future = (timezone.localdate() + datetime.timedelta(days=2)).isoformat()
    r = api.post(f"/api/accounts/{account.pk}/close", {"closed_at": future})
    assert r.status_code == 422
    assert (r.data["field"], r.data["code"]) == ("closed_at", "future")
    r = api.post(f"/api/accounts/{account.pk}/close", {"reason": "no day"})
    assert r.status_code == 422
    assert r.data["field"] == "closed_at"
    r = api.post(
        f"/api/accounts/{account.pk}/close", {"closed_at": "2025-01-01", "reason": "x" * 201}
    )
    assert r.status_code == 422
    assert r.data["field"] == "reason"
    r = api.post(
        f"/api/accounts/{account.pk}/close",
        {"closed_at": "2025-01-01"},
        headers={"If-Match": '"7"'},
    )
    assert r.status_code == 412
    assert Account.objects.get(pk=account.pk).closed_at is None


def test_api_close_respects_visibility_and_edit_rights(personas, api_as, account):
    r = api_as(personas.outsider).post(
        f"/api/accounts/{account.pk}/close", {"closed_at": "2025-01-01"}
    )
    assert r.status_code == 404
    r = api_as(personas.reader).post(
        f"/api/accounts/{account.pk}/close", {"closed_at": "2025-01-01"}
    )
    assert r.status_code in (403, 404)
    assert Account.objects.get(pk=account.pk).closed_at is None
    r = api_as(personas.manager).post(
        f"/api/accounts/{account.pk}/close", {"closed_at": "2025-01-01"}
    )
    assert r.status_code == 200, r.data


def test_account_page_offers_close_then_reopen(personas, account):
    client = ui_client(personas.owner)
    page = client.get(reverse("accounts:account_detail", args=[account.pk]))
    assert page.status_code == 200
    close_url = reverse("accounts:account_close", args=[account.pk])
    assert close_url in page.content.decode()
    form = client.get(close_url)
    assert form.status_code == 200
    assert "Close account" in text_of(form)
    bad = client.post(close_url, {"closed_at": "2999-01-01", "reason": "x", "version": 1})
    assert bad.status_code == 422
    assert "future" in text_of(bad)
    ok = client.post(close_url, {"closed_at": "2025-02-03", "reason": "Moved", "version": 1})
    assert ok.status_code == 302
    account.refresh_from_db()
    assert account.closed_at == datetime.date(2025, 2, 3)
    page = client.get(reverse("accounts:account_detail", args=[account.pk]))
    text = text_of(page)
    assert "Closed" in text and "Moved" in text
    reopen_url = reverse("accounts:account_reopen", args=[account.pk])
    assert reopen_url in page.content.decode()
    assert client.post(reopen_url, {"version": account.version}).status_code == 302
    account.refresh_from_db()
    assert account.closed_at is None


def test_close_page_is_404_for_who_cannot_see_and_stale_version_is_reported(personas, account):
    url = reverse("accounts:account_close", args=[account.pk])
    assert ui_client(personas.outsider).get(url).status_code == 404
    client = ui_client(personas.owner)
    stale = client.post(url, {"closed_at": "2025-02-03", "reason": "", "version": 9})
    assert stale.status_code == 409
    assert Account.objects.get(pk=account.pk).closed_at is None


def test_closed_filter_in_the_api_and_on_the_list(personas, api_as):
    import datetime

    from rapport.accounts.services import account_close, account_create
    from rapport.web.testing import text_of, ui_client

    gone = account_create(actor=personas.owner, fields={"name": "Gone Gmbh"})
    account_create(actor=personas.owner, fields={"name": "Still Here"})
    account_close(
        account=gone, actor=personas.owner, closed_at=datetime.date(2025, 1, 2), reason="moved"
    )
    api = api_as(personas.owner)
    assert [a["name"] for a in api.get("/api/accounts", closed="true").data["items"]] == [
        "Gone Gmbh"
    ]
    assert [a["name"] for a in api.get("/api/accounts", closed="false").data["items"]] == [
        "Still Here"
    ]
    page = text_of(ui_client(personas.owner).get("/accounts/", {"closed": "true"}))
    assert "Gone Gmbh" in page and "Still Here" not in page
    assert "Relationship" in page and "Closed" in page  # the chip says which filter
