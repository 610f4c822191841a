"""The visibility layer: org-wide defaults, owner, manager hierarchy, shares, admin."""

import pytest

from rapport.accounts.models import Account
from rapport.accounts.services import account_create
from rapport.identity.services import team_create
from rapport.records.models import Access, ObjectType, OrgDefault
from rapport.records.services import record_share
from rapport.records.visibility import editable, visible

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(personas):
    return account_create(actor=personas.owner, fields={"name": "Acme"})


def ids(qs):
    return set(qs.values_list("pk", flat=True))


def test_private_default_grants_owner_manager_and_admin_only(personas, account):
    for user in (personas.owner, personas.manager, personas.admin):
        assert ids(visible(Account.objects.all(), user)) == {account.pk}
    for user in (personas.teammate, personas.outsider, personas.reader, personas.deactivated):
        assert ids(visible(Account.objects.all(), user)) == set()


def test_manager_of_parent_team_sees_sub_team_records(personas):
    boss = personas.admin.__class__.objects.create(username="boss")
    parent = team_create(name="Sales EMEA", manager=boss)
    personas.team_b.parent = parent
    personas.team_b.save()
    acc = account_create(actor=personas.outsider, fields={"name": "Deep"})
    assert ids(visible(Account.objects.all(), boss)) == {acc.pk}
    assert ids(editable(Account.objects.all(), boss)) == {acc.pk}
    assert ids(visible(Account.objects.all(), personas.manager)) == set()


def test_public_read_lets_everyone_read_but_not_edit(personas, account):
    OrgDefault.objects.create(object_type=ObjectType.ACCOUNT, access=Access.PUBLIC_READ)
    assert ids(visible(Account.objects.all(), personas.outsider)) == {account.pk}
    assert ids(editable(Account.objects.all(), personas.outsider)) == set()


def test_public_read_write_lets_everyone_edit_except_read_only(personas, account):
    OrgDefault.objects.create(object_type=ObjectType.ACCOUNT, access=Access.PUBLIC_READ_WRITE)
    assert ids(editable(Account.objects.all(), personas.outsider)) == {account.pk}
    assert ids(editable(Account.objects.all(), personas.reader)) == set()
    assert ids(visible(Account.objects.all(), personas.deactivated)) == set()


def test_share_with_user_and_team(personas, account):
    record_share(record=account, actor=personas.owner, user=personas.outsider, access="read")
    assert ids(visible(Account.objects.all(), personas.outsider)) == {account.pk}
    assert ids(editable(Account.objects.all(), personas.outsider)) == set()
    record_share(record=account, actor=personas.owner, team=personas.team_a, access="edit")
    assert ids(editable(Account.objects.all(), personas.teammate)) == {account.pk}
    assert ids(editable(Account.objects.all(), personas.reader)) == set()


def test_share_api_and_timeline(personas, api_as, account):
    api = api_as(personas.owner)
    r = api.post(
        f"/api/accounts/{account.pk}/shares", {"user_id": personas.outsider.pk, "access": "edit"}
    )
    assert r.status_code == 201, r.data
    assert (
        api_as(personas.outsider)
        .patch(f"/api/accounts/{account.pk}", {"industry": "X"})
        .status_code
        == 200
    )
    kinds = [e["kind"] for e in api.get(f"/api/accounts/{account.pk}/timeline").data["items"]]
    assert kinds == ["updated", "shared", "created"]
    assert api.delete(f"/api/accounts/{account.pk}/shares/{r.data['id']}").status_code == 204
    assert api_as(personas.outsider).get(f"/api/accounts/{account.pk}").status_code == 404
    # An outsider cannot share what they cannot see.
    r = api_as(personas.outsider).post(
        f"/api/accounts/{account.pk}/shares", {"user_id": personas.outsider.pk}
    )
    assert r.status_code == 404


def test_transfer_moves_record_to_new_owner_and_team(personas, api_as, account):
    r = api_as(personas.owner).post(
        f"/api/accounts/{account.pk}/transfer", {"owner_id": personas.outsider.pk}
    )
    assert r.status_code == 200, r.data
    assert r.data["owner_id"] == personas.outsider.pk and r.data["team_id"] == personas.team_b.pk
    assert api_as(personas.outsider).get(f"/api/accounts/{account.pk}").status_code == 200
    assert api_as(personas.owner).get(f"/api/accounts/{account.pk}").status_code == 404
    r = api_as(personas.outsider).post(
        f"/api/accounts/{account.pk}/transfer", {"owner_id": personas.deactivated.pk}
    )
    assert r.status_code == 422 and r.data["field"] == "owner_id"


def test_soft_delete_and_restore(personas, api_as, account):
    api = api_as(personas.owner)
    assert api.delete(f"/api/accounts/{account.pk}").status_code == 204
    assert api.get(f"/api/accounts/{account.pk}").status_code == 404
    assert [a["id"] for a in api.get("/api/accounts", deleted="true").data["items"]] == [account.pk]
    assert api.post(f"/api/accounts/{account.pk}/restore").status_code == 200
    assert api.get(f"/api/accounts/{account.pk}").status_code == 200
    assert api_as(personas.outsider).post(f"/api/accounts/{account.pk}/restore").status_code == 404


def test_org_defaults_and_team_tree_are_one_statement_per_request(
    personas, django_assert_num_queries
):
    """Issue 17: a non-admin request read the org defaults and the team tree in two round
    trips; they are read together, once per user object (that is, once per request)."""
    from rapport.identity.models import User
    from rapport.records.visibility import managed_team_ids, org_default

    top = team_create(name="Vis17 top", manager=personas.manager)
    below = team_create(name="Vis17 below", parent=top)
    OrgDefault.objects.update_or_create(
        object_type=ObjectType.CONTACT, defaults={"access": Access.PUBLIC_READ}
    )
    manager = User.objects.get(pk=personas.manager.pk)  # nothing cached on it yet
    with django_assert_num_queries(1):
        assert org_default(ObjectType.CONTACT, manager) == Access.PUBLIC_READ
        assert org_default(ObjectType.ACCOUNT, manager) == Access.PRIVATE
        assert {top.pk, below.pk} <= managed_team_ids(manager)
    with django_assert_num_queries(0):
        visible(Account.objects.all(), manager)
