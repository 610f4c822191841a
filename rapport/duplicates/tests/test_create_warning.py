"""Create endpoints with ?check_duplicates=true: 409 possible_duplicate, nothing saved."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/contacts", {"first_name": "Jane", "last_name": "Doe", "email": "Jane@acme.io"}),
        ("/api/accounts", {"name": "ACME Inc", "website": "https://www.acme.io"}),
        ("/api/leads", {"first_name": "Jane", "last_name": "Doe", "email": "jane@acme.io"}),
    ],
)
def test_create_with_check_duplicates_warns_with_409_and_saves_nothing(
    personas, api_as, path, body
):
    api = api_as(personas.owner)
    first = api.post(path, body)
    assert first.status_code == 201, first.data
    warned = api.post(f"{path}?check_duplicates=true", body)
    assert warned.status_code == 409, warned.data
    assert warned.data["code"] == "possible_duplicate"
    assert str(first.data["id"]) in warned.data["detail"]
    assert api.get(path).data["count"] == 1
    assert api.post(path, body).status_code == 201  # without the switch: saved
    assert api_as(personas.outsider).post(f"{path}?check_duplicates=true", body).status_code == 201
