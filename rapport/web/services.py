"""Writes of the web UI's own data: saved views."""

from urllib.parse import parse_qsl, urlencode

from django.core.exceptions import ValidationError
from django.db import transaction

from rapport.identity.models import User
from rapport.web.models import SavedView

# Parameters that describe where one is in a list, not what the view shows.
TRANSIENT_PARAMS = {"cursor", "view", "fragment", "cols", "csrfmiddlewaretoken"}
MAX_VIEWS_PER_LIST = 30


def _clean_query(query: str) -> str:
    pairs = [
        (k, v) for k, v in parse_qsl(query, keep_blank_values=False) if k not in TRANSIENT_PARAMS
    ]
    return urlencode(pairs)


def saved_view_create(
    *, user: User, object_type: str, name: str, query: str, columns: list[str]
) -> SavedView:
    """Save (or overwrite, by name) the user's view of one list."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": [ValidationError("Give the view a name", code="required")]})
    with transaction.atomic():
        existing = SavedView.objects.filter(user=user, object_type=object_type, name=name).first()
        if existing is None and (
            SavedView.objects.filter(user=user, object_type=object_type).count()
            >= MAX_VIEWS_PER_LIST
        ):
            raise ValidationError(
                {"name": [ValidationError("You have too many saved views here", code="limit")]}
            )
        view = existing or SavedView(user=user, object_type=object_type, name=name)
        view.query = _clean_query(query)
        view.columns = [c for c in columns if c][:40]
        view.save()
    return view


def saved_view_delete(*, view: SavedView) -> None:
    view.delete()
