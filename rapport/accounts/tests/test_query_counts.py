"""Lists cost a fixed number of queries whatever the page size (no N+1)."""

import pytest

from rapport.accounts.services import account_create, contact_create

pytestmark = pytest.mark.django_db


def _fill(personas, n):
    for i in range(n):
        account = account_create(
            actor=personas.owner, fields={"name": f"Acc {i}"}, tags=["a", f"t{i}"]
        )
        contact_create(
            actor=personas.owner,
            fields={"last_name": f"C{i}", "account": account},
            emails=[{"email": f"c{i}@x.example"}, {"email": f"c{i}@y.example"}],
            phones=[{"number": "+14155550100"}],
            tags=["b"],
        )


@pytest.mark.parametrize("path", ["/api/accounts", "/api/contacts"])
def test_list_queries_do_not_grow_with_rows(personas, api_as, django_assert_max_num_queries, path):
    api = api_as(personas.manager)
    api.get("/api/me")  # token lookup warm
    _fill(personas, 3)
    with django_assert_max_num_queries(12) as small:
        assert len(api.get(path).data["items"]) == 3
    _fill(personas, 17)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(api.get(path).data["items"]) == 20


def test_timeline_queries_do_not_grow_with_events(personas, api_as, django_assert_max_num_queries):
    api = api_as(personas.owner)
    account = account_create(actor=personas.owner, fields={"name": "Busy"})
    with django_assert_max_num_queries(12) as small:
        api.get(f"/api/accounts/{account.pk}/timeline")
    for i in range(15):
        contact_create(actor=personas.owner, fields={"last_name": f"P{i}", "account": account})
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(api.get(f"/api/accounts/{account.pk}/timeline").data["items"]) == 16
