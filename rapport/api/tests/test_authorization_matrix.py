"""The authorisation matrix: every persona × every owned object × list / get / update /
delete / actions, under the private default, a public read-only default and a share.

Not visible → 404 (never 403) and absent from lists and filters; visible but not editable → 403;
no valid credentials → 401. An edit share lets its holder change the record but not transfer
or share it (403 `not_owner`). The "shared parent, private children" scenario (timelines,
embedded names, exports, pickers, search) is in test_shared_parent_private_children.py.
"""

import functools

import pytest

from rapport.records.models import Access, OrgDefault

pytestmark = pytest.mark.django_db

# object type → (collection path, create body, patch body)
OBJECTS = {
    "account": ("/api/accounts", {"name": "Matrix Co"}, {"industry": "Testing"}),
    "contact": (
        "/api/contacts",
        {"last_name": "Matrix", "email": "m@matrix.example"},
        {"title": "CTO"},
    ),
    "lead": ("/api/leads", {"last_name": "Matrix", "company": "Matrix Co"}, {"title": "CTO"}),
    "opportunity": (
        "/api/opportunities",
        {"name": "Matrix deal", "amount": "100.00"},
        {"description": "x"},
    ),
}

ALLOWED = "allowed"
EDIT_ONLY = "edit_only"  # may change the record, not transfer or share it (an edit share)
HIDDEN = "hidden"  # 404 and absent from lists
READ_ONLY = "read_only"  # visible, 403 on writes
NO_AUTH = "no_auth"  # 401

PRIVATE = {
    "owner": ALLOWED,
    "manager": ALLOWED,
    "admin": ALLOWED,
    "teammate": HIDDEN,
    "outsider": HIDDEN,
    "reader": HIDDEN,
    "deactivated": NO_AUTH,
    "anonymous": NO_AUTH,
}
PUBLIC_READ = {
    **PRIVATE,
    "teammate": READ_ONLY,
    "outsider": READ_ONLY,
    "reader": READ_ONLY,
}
SHARED_READ_WITH_OUTSIDER = {**PRIVATE, "outsider": READ_ONLY}
SHARED_EDIT_WITH_TEAM_A = {**PRIVATE, "teammate": EDIT_ONLY, "reader": READ_ONLY}


@functools.cache
def _paths() -> frozenset[str]:
    from rapport.api.router import api

    return frozenset(api.get_openapi_schema()["paths"])


def _available(object_type: str) -> bool:
    return OBJECTS[object_type][0] + "/{pk}" in _paths()


@pytest.fixture(params=list(OBJECTS))
def object_type(request):
    if not _available(request.param):
        pytest.fail(f"{request.param} endpoints are missing")
    return request.param


def _client(api_as, personas, who):
    return api_as(None if who == "anonymous" else getattr(personas, who))


def _setup(scenario, object_type, personas, api_as):
    base, body, _ = OBJECTS[object_type]
    created = api_as(personas.owner).post(base, body)
    assert created.status_code == 201, created.data
    pk = created.data["id"]
    if scenario == "public_read":
        OrgDefault.objects.create(object_type=object_type, access=Access.PUBLIC_READ)
    elif scenario == "shared_read":
        r = api_as(personas.owner).post(f"{base}/{pk}/shares", {"user_id": personas.outsider.pk})
        assert r.status_code == 201
    elif scenario == "shared_team_edit":
        r = api_as(personas.owner).post(
            f"{base}/{pk}/shares", {"team_id": personas.team_a.pk, "access": "edit"}
        )
        assert r.status_code == 201
    return base, pk


SCENARIOS = {
    "private": PRIVATE,
    "public_read": PUBLIC_READ,
    "shared_read": SHARED_READ_WITH_OUTSIDER,
    "shared_team_edit": SHARED_EDIT_WITH_TEAM_A,
}
PERSONAS = list(PRIVATE)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("who", PERSONAS)
def test_read_paths(scenario, who, object_type, personas, api_as):
    base, pk = _setup(scenario, object_type, personas, api_as)
    expected = SCENARIOS[scenario][who]
    client = _client(api_as, personas, who)
    listed = client.get(base)
    detail = client.get(f"{base}/{pk}")
    timeline = client.get(f"{base}/{pk}/timeline")
    filtered = client.get(base, owner_id=str(personas.owner.pk))
    if expected == NO_AUTH:
        assert {listed.status_code, detail.status_code, timeline.status_code} == {401}
        return
    ids = [row["id"] for row in listed.data["items"]]
    filtered_ids = [row["id"] for row in filtered.data["items"]]
    if expected == HIDDEN:
        assert detail.status_code == 404 and detail.data["code"] == "not_found"
        assert timeline.status_code == 404
        assert pk not in ids and pk not in filtered_ids
        assert listed.data["count"] == 0
    else:
        assert detail.status_code == 200, detail.data
        assert timeline.status_code == 200
        assert pk in ids and pk in filtered_ids


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("who", PERSONAS)
def test_write_paths(scenario, who, object_type, personas, api_as):
    base, pk = _setup(scenario, object_type, personas, api_as)
    _, _, patch = OBJECTS[object_type]
    expected = SCENARIOS[scenario][who]
    client = _client(api_as, personas, who)
    expected_status = {ALLOWED: None, HIDDEN: 404, READ_ONLY: 403, NO_AUTH: 401}.get(expected)

    update = client.patch(f"{base}/{pk}", patch)
    share = client.post(f"{base}/{pk}/shares", {"user_id": personas.teammate.pk})
    transfer = client.post(f"{base}/{pk}/transfer", {"owner_id": personas.owner.pk})
    if expected == EDIT_ONLY:
        assert update.status_code == 200, update.data
        for response in (share, transfer):
            assert response.status_code == 403, response.data
            assert response.data["code"] == "not_owner"
        expected_status = None
    elif expected_status is None:
        assert update.status_code == 200, update.data
        assert share.status_code == 201, share.data
        assert transfer.status_code == 200, transfer.data
    else:
        for response in (update, share, transfer):
            assert response.status_code == expected_status, (response.request, response.data)
    delete = client.delete(f"{base}/{pk}")
    if expected_status is None:
        assert delete.status_code == 204
        assert client.post(f"{base}/{pk}/restore").status_code == 200
    else:
        assert delete.status_code == expected_status
        # Nothing changed for the owner.
        owner_view = api_as(personas.owner).get(f"{base}/{pk}")
        assert owner_view.status_code == 200
        assert owner_view.data["version"] == 1 or scenario.startswith("shared")
