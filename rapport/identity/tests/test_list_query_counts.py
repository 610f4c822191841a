"""Settings-style lists (users, teams, tokens, custom fields, tags, org defaults) cost a
fixed number of queries whatever their length."""

import pytest

from rapport.accounts.services import account_create
from rapport.identity.services import api_token_create, team_create, user_create
from rapport.records.custom_fields import custom_field_define

pytestmark = pytest.mark.django_db

PATHS = [
    "/api/users",
    "/api/teams",
    "/api/me/tokens",
    "/api/custom-fields",
    "/api/tags",
    "/api/org-defaults",
]


def _grow(personas, start: int, n: int) -> None:
    for i in range(start, start + n):
        team = team_create(name=f"T{i}", manager=personas.manager, parent=personas.team_a)
        user_create(username=f"u{i}", team=team)
        api_token_create(user=personas.admin, name=f"tok{i}")
        custom_field_define(object_type="account", key=f"f{i}", label=f"F{i}", field_type="text")
        account_create(actor=personas.owner, fields={"name": f"A{i}"}, tags=[f"tag{i}"])


@pytest.mark.parametrize("path", PATHS)
def test_settings_lists_do_not_grow_queries(personas, api_as, django_assert_max_num_queries, path):
    api = api_as(personas.admin)
    _grow(personas, 0, 2)
    with django_assert_max_num_queries(8) as small:
        assert api.get(path).status_code == 200
    _grow(personas, 2, 12)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert api.get(path).status_code == 200
