"""Tags are not global: the list names only tags on records the reader may see, and one
request cannot mint thousands of them."""

import pytest

from rapport.accounts.services import account_create
from rapport.records.models import Tag
from rapport.records.services import MAX_TAGS_PER_RECORD, record_share

pytestmark = pytest.mark.django_db


def _names(response) -> set[str]:
    assert response.status_code == 200, response.data
    return {t["name"] for t in response.data}


def test_tag_list_names_only_tags_on_visible_records(personas, api_as):
    account_create(actor=personas.owner, fields={"name": "Private"}, tags=["acquisition-target"])
    shared = account_create(actor=personas.owner, fields={"name": "Shared"}, tags=["partner"])
    record_share(record=shared, actor=personas.owner, user=personas.outsider)
    account_create(actor=personas.outsider, fields={"name": "Mine"}, tags=["my-tag"])
    assert _names(api_as(personas.outsider).get("/api/tags")) == {"partner", "my-tag"}
    assert _names(api_as(personas.teammate).get("/api/tags")) == set()
    assert _names(api_as(personas.owner).get("/api/tags")) == {"acquisition-target", "partner"}
    assert _names(api_as(personas.manager).get("/api/tags")) == {"acquisition-target", "partner"}
    assert _names(api_as(personas.admin).get("/api/tags")) == {
        "acquisition-target",
        "partner",
        "my-tag",
    }
    assert _names(api_as(personas.outsider).get("/api/tags", q="acq")) == set()


def test_one_request_cannot_create_thousands_of_tags(personas, api_as):
    api = api_as(personas.owner)
    many = [f"t{i}" for i in range(20_000)]
    created = api.post("/api/accounts", {"name": "Spam", "tags": many})
    assert created.status_code == 422
    assert Tag.objects.count() == 0
    ok = api.post("/api/accounts", {"name": "Fine", "tags": ["a", "b"]})
    assert ok.status_code == 201
    too_many = [f"t{i}" for i in range(MAX_TAGS_PER_RECORD + 1)]
    patched = api.patch(f"/api/accounts/{ok.data['id']}", {"tags": too_many})
    assert patched.status_code == 422
    assert Tag.objects.count() == 2
    assert api.get(f"/api/accounts/{ok.data['id']}").data["tags"] == ["a", "b"]


def test_the_service_refuses_too_many_tags(personas):
    from django.core.exceptions import ValidationError

    names = [f"t{i}" for i in range(MAX_TAGS_PER_RECORD + 1)]
    with pytest.raises(ValidationError) as exc:
        account_create(actor=personas.owner, fields={"name": "X"}, tags=names)
    assert exc.value.error_dict["tags"][0].code == "too_many_tags"
    assert Tag.objects.count() == 0
