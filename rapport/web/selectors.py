"""Reads of the web UI's own data: a user's saved views."""

from django.db.models import QuerySet

from rapport.identity.models import User
from rapport.records.exceptions import RecordNotFound
from rapport.web.models import SavedView


def saved_views_of(*, user: User, object_type: str) -> QuerySet[SavedView]:
    """The user's saved views of one list (only their own: views are personal)."""
    return SavedView.objects.filter(user=user, object_type=object_type)


def saved_view_get_for_user(*, pk: int, user: User) -> SavedView:
    """The user's own saved view, else RecordNotFound (another user's view is a 404)."""
    view = SavedView.objects.filter(pk=pk, user=user).first()
    if view is None:
        raise RecordNotFound("saved view")
    return view
