"""Reads of the installed base: an asset is visible with its account or its contact."""

from django.db.models import QuerySet

from rapport.accounts.models import Account, Contact
from rapport.assets.models import Asset
from rapport.identity.models import User
from rapport.records.exceptions import RecordNotFound
from rapport.records.visibility import editable, visible_through_parents

ASSET_PARENTS = {"account": Account, "contact": Contact}
ASSET_SORTS = {"created_at", "install_date", "warranty_end", "serial_number"}


def assets_visible_to(user: User) -> QuerySet[Asset]:
    return visible_through_parents(Asset.objects.select_related("product"), user, ASSET_PARENTS)


def asset_list(
    *,
    user: User,
    account_id: int | None = None,
    contact_id: int | None = None,
    product_id: int | None = None,
    status: str | None = None,
    serial_number: str | None = None,
    q: str | None = None,
) -> QuerySet[Asset]:
    qs = assets_visible_to(user)
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    if contact_id is not None:
        qs = qs.filter(contact_id=contact_id)
    if product_id is not None:
        qs = qs.filter(product_id=product_id)
    if status:
        qs = qs.filter(status=status)
    if serial_number:
        qs = qs.filter(serial_number=serial_number)
    if q:
        qs = qs.filter(serial_number__icontains=q) | qs.filter(product__name__icontains=q)
    return qs


def assets_of_visible_parent(*, account: Account | None = None, contact: Contact | None = None):
    """The assets of an account or a contact the caller has already checked as visible."""
    if account is not None:
        return Asset.objects.select_related("product").filter(account_id=account.pk)
    return Asset.objects.select_related("product").filter(contact_id=contact.pk)


def asset_get_for_user(*, pk: int, user: User) -> Asset:
    try:
        return assets_visible_to(user).get(pk=pk)
    except (Asset.DoesNotExist, ValueError, TypeError, OverflowError):
        raise RecordNotFound("asset")


def asset_parents_editable(*, user: User, account_id: int | None, contact_id: int | None) -> bool:
    if account_id and editable(Account.objects.filter(pk=account_id), user).exists():
        return True
    return bool(contact_id) and editable(Contact.objects.filter(pk=contact_id), user).exists()
