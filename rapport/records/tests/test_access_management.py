"""An edit share is not ownership: only the owner, the managers above the owner's team and
admins may transfer a record or change who it is shared with — over the API, the pages
and the services alike."""

import pytest

from rapport.accounts.models import Account
from rapport.accounts.services import account_create
from rapport.records.exceptions import PermissionDenied
from rapport.records.models import RecordShare
from rapport.records.services import record_share, record_transfer_owner

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(personas):
    account = account_create(actor=personas.owner, fields={"name": "Owned Co"})
    record_share(record=account, actor=personas.owner, user=personas.outsider, access="edit")
    return account


def test_edit_sharer_cannot_take_the_record_or_lock_the_owner_out(personas, api_as, account):
    api = api_as(personas.outsider)
    base = f"/api/accounts/{account.pk}"
    transfer = api.post(f"{base}/transfer", {"owner_id": personas.outsider.pk})
    patch = api.patch(base, {"owner_id": personas.outsider.pk})
    share = api.post(f"{base}/shares", {"user_id": personas.teammate.pk, "access": "edit"})
    own_share = RecordShare.objects.get(object_id=account.pk, user=personas.outsider)
    unshare = api.delete(f"{base}/shares/{own_share.pk}")
    for response in (transfer, patch, share, unshare):
        assert response.status_code == 403, response.data
        assert response.data["code"] == "not_owner"
    account.refresh_from_db()
    assert account.owner == personas.owner and account.version == 1
    assert RecordShare.objects.filter(object_id=account.pk).count() == 1
    # Editing the record itself is what the share is for.
    assert api.patch(base, {"industry": "Retail"}).status_code == 200
    # Sending the current owner back unchanged is not a transfer.
    assert api.patch(base, {"owner_id": personas.owner.pk, "city": "Lyon"}).status_code == 200
    assert api_as(personas.owner).get(base).status_code == 200


def test_outsider_without_access_gets_404_not_403(personas, api_as, account):
    api = api_as(personas.teammate)
    response = api.post(f"/api/accounts/{account.pk}/transfer", {"owner_id": personas.teammate.pk})
    assert response.status_code == 404


@pytest.mark.parametrize("who", ["owner", "manager", "admin"])
def test_owner_managers_and_admins_may_transfer_and_share(personas, account, who):
    actor = getattr(personas, who)
    record_share(record=account, actor=actor, user=personas.teammate, access="read")
    record_transfer_owner(record=account, new_owner=personas.teammate, actor=actor)
    assert Account.objects.get(pk=account.pk).owner == personas.teammate


def test_manager_of_another_team_may_not_transfer(personas, account, api_as):
    # A sharer who also manages a team is still no manager of this record's team.
    record_share(record=account, actor=personas.owner, team=personas.team_b, access="edit")
    personas.team_b.manager = personas.outsider
    personas.team_b.save()
    with pytest.raises(PermissionDenied):
        record_transfer_owner(record=account, new_owner=personas.outsider, actor=personas.outsider)


def test_record_page_hides_share_and_transfer_from_an_edit_sharer(personas, client, account):
    client.force_login(personas.outsider)
    html = client.get(f"/accounts/{account.pk}/").content.decode()
    assert "Transfer owner" not in html and ">Share</a>" not in html
    assert "?manage=1" not in html
    assert "fields/owner/?edit=1" not in html
    assert client.get(f"/accounts/{account.pk}/fields/owner/?edit=1").content.count(b"<select") == 0
    panel = client.get(f"/records/account/{account.pk}/access?manage=1")
    assert panel.status_code == 200 and "Share this record" not in panel.content.decode()
    post = client.post(
        f"/records/account/{account.pk}/owner",
        {"new_owner": personas.outsider.pk, "version": account.version},
    )
    assert post.status_code == 403
    edit_form = client.get(f"/accounts/{account.pk}/edit").content.decode()
    assert "Only the owner, their managers and admins may change it" in edit_form
    client.force_login(personas.owner)
    html = client.get(f"/accounts/{account.pk}/").content.decode()
    assert "Transfer owner" in html and ">Share</a>" in html
    assert "fields/owner/?edit=1" in html
