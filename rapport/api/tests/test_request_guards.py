"""Guards every API request passes (issue 16, items 1, 10, 12 and 16): JSON bodies only, one
transaction per write, owners the creator can see, and a 401 for a revoked token."""

import pytest
from django.db import DataError
from django.test import Client

from rapport.accounts.models import Account
from rapport.activities.models import Activity
from rapport.identity.models import ApiToken
from rapport.identity.services import api_token_create, api_token_revoke
from rapport.timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db


# ----- 415 for bodies that are not JSON (item 10) --------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_a_json_endpoint_refuses_another_content_type(personas, api_as, content_type):
    api = api_as(personas.owner)
    response = api.client.post(
        "/api/accounts",
        '{"name": "Plain\\u0000text"}',
        content_type=content_type,
        headers=api.headers,
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert response.json()["field"] == "Content-Type"
    assert not Account.objects.exists()


def test_a_patch_refuses_another_content_type(personas, api_as):
    api = api_as(personas.owner)
    account = api.post("/api/accounts", {"name": "Typed"}).data
    response = api.client.patch(
        f"/api/accounts/{account['id']}",
        '{"name": "x"}',
        content_type="text/plain",
        headers=api.headers,
    )
    assert response.status_code == 415
    assert Account.objects.get().name == "Typed"


@pytest.mark.parametrize("content_type", ["application/json", "application/merge-patch+json"])
def test_json_content_types_are_accepted(personas, api_as, content_type):
    api = api_as(personas.owner)
    response = api.client.post(
        "/api/accounts", '{"name": "Json"}', content_type=content_type, headers=api.headers
    )
    assert response.status_code == 201


def test_nul_characters_are_refused_in_any_json_type(personas, api_as):
    api = api_as(personas.owner)
    response = api.client.post(
        "/api/accounts",
        '{"name": "Nul\\u0000Co"}',
        content_type="application/merge-patch+json",
        headers=api.headers,
    )
    assert response.status_code == 422
    assert response.json()["code"] == "null_characters"
    assert not Account.objects.exists()


def test_the_upload_endpoint_still_takes_multipart(personas, api_as):
    from django.core.files.uploadedfile import SimpleUploadedFile

    api = api_as(personas.owner)
    response = api.client.post(
        "/api/imports",
        {
            "file": SimpleUploadedFile("a.csv", b"name\nAcme\n", "text/csv"),
            "object_type": "accounts",
        },
        headers=api.headers,
    )
    assert response.status_code != 415, response.content
    assert response.status_code < 500


def test_the_schema_documents_415():
    from rapport.api.router import api

    operation = api.get_openapi_schema()["paths"]["/api/accounts"]["post"]
    assert "415" in operation["responses"]


# ----- one transaction per write (item 1) ------------------------------------------------------


def test_an_error_mapped_to_a_4xx_rolls_back_what_the_request_wrote(personas, api_as, monkeypatch):
    """Whatever fails after the first write (here: reading the row back, as PostgreSQL did
    for a year-10000 timestamp) leaves nothing stored."""
    from rapport.activities import api as activities_api

    def unreadable(*args, **kwargs):
        raise DataError("timestamp out of range")

    monkeypatch.setattr(activities_api, "_read", unreadable)
    response = api_as(personas.owner).post("/api/activities", {"kind": "task", "subject": "x"})
    assert response.status_code == 422
    assert response.data["code"] == "out_of_range"
    assert not Activity.objects.exists()
    assert not TimelineEvent.objects.exists()


# ----- an owner the creator cannot see (item 12) ---------------------------------------------


@pytest.mark.parametrize(
    "path,body",
    [
        ("/api/accounts", {"name": "Foreign Co"}),
        ("/api/contacts", {"last_name": "Foreign"}),
        ("/api/leads", {"last_name": "Foreign", "company": "F"}),
        ("/api/opportunities", {"name": "Foreign deal"}),
    ],
)
def test_creating_for_an_owner_out_of_sight_is_refused_before_anything_is_stored(
    personas, api_as, path, body
):
    api = api_as(personas.owner)
    before = TimelineEvent.objects.count()
    for _retry in range(2):
        response = api.post(path, {**body, "owner_id": personas.outsider.pk})
        assert response.status_code == 422, response.data
        assert response.data["field"] == "owner_id"
        assert response.data["code"] == "owner_out_of_sight"
    assert api_as(personas.outsider).get(path).data["items"] == []
    assert TimelineEvent.objects.count() == before


def test_a_manager_may_create_for_their_team(personas, api_as):
    response = api_as(personas.manager).post(
        "/api/accounts", {"name": "Team Co", "owner_id": personas.owner.pk}
    )
    assert response.status_code == 201, response.data
    assert response.data["owner_id"] == personas.owner.pk


@pytest.mark.parametrize(
    "path,body",
    [
        ("/api/accounts", {"name": "Handed Co"}),
        ("/api/contacts", {"last_name": "Handed"}),
        ("/api/leads", {"last_name": "Handed", "company": "H"}),
        ("/api/opportunities", {"name": "Handed deal"}),
    ],
)
def test_a_hand_off_to_a_teammate_is_a_201_with_what_was_written(personas, api_as, path, body):
    """Under the private default the creator will not see it: the answer is still the 201
    with the stored record, not a 404 for a write that happened."""
    response = api_as(personas.owner).post(path, {**body, "owner_id": personas.teammate.pk})
    assert response.status_code == 201, response.data
    assert response.data["owner_id"] == personas.teammate.pk
    assert api_as(personas.owner).get(f"{path}/{response.data['id']}").status_code == 404
    listed = api_as(personas.teammate).get(path).data["items"]
    assert [item["id"] for item in listed] == [response.data["id"]]


def test_an_activity_on_a_visible_record_may_belong_to_anyone(personas, api_as):
    # (A personal task for someone else is refused already: `personal_task`.)
    api = api_as(personas.owner)
    account = api.post("/api/accounts", {"name": "Mine"}).data
    response = api.post(
        "/api/activities",
        {
            "kind": "call",
            "subject": "Their call",
            "account_id": account["id"],
            "owner_id": personas.outsider.pk,
        },
    )
    assert response.status_code == 201, response.data


# ----- a revoked token is a 401 (item 16) ------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post", "patch", "delete"])
def test_a_revoked_token_is_a_401_on_every_method(personas, method):
    token, secret = api_token_create(user=personas.owner, name="old")
    api_token_revoke(token=ApiToken.objects.get(pk=token.pk))
    client = Client(enforce_csrf_checks=True)
    kwargs = {"headers": {"Authorization": f"Bearer {secret}"}}
    if method in ("post", "patch"):
        kwargs |= {"data": "{}", "content_type": "application/json"}
    path = "/api/accounts/1" if method in ("patch", "delete") else "/api/accounts"
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "unauthenticated"


def test_a_session_still_needs_its_csrf_token(personas):
    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.owner)
    response = client.post("/api/accounts", '{"name": "x"}', content_type="application/json")
    assert response.status_code == 403
