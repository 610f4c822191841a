"""The "looks like an existing record" step of the create pages (accounts, contacts, leads).

A create view wraps its save with `unless_duplicate(...)`: when the new record looks like
visible ones and the person has not pressed "Create anyway", nothing is saved and the form
comes back with `form.possible_duplicates`, which `duplicates/_create_warning.html` (included
inside the form) lists with links and a "Create anyway" button that resubmits the form.
The matching is the API's `?check_duplicates=true` check (selectors.duplicates_check).
"""

from collections.abc import Callable
from typing import Any

from django.urls import reverse

from rapport.duplicates.selectors import duplicates_check

CREATE_ANYWAY = "create_anyway"
WARNING_LIMIT = 5
DETAIL_URLS = {
    "account": "accounts:account_detail",
    "contact": "accounts:contact_detail",
    "lead": "leads:lead_detail",
}


def check_fields(object_type: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The create service's keyword arguments as the duplicates check reads them."""
    fields = dict(kwargs.get("fields") or {})
    if object_type == "contact":
        account = fields.pop("account", None)
        fields["account_id"] = getattr(account, "pk", account)
        fields["emails"] = kwargs.get("emails") or []
        fields["phones"] = kwargs.get("phones") or []
    return fields


def possible_duplicates(*, user, object_type: str, kwargs: dict[str, Any]) -> list[dict]:
    """Visible records like the one about to be created, best first, each with its URL."""
    matches = duplicates_check(
        user=user,
        object_type=object_type,
        fields=check_fields(object_type, kwargs),
        limit=WARNING_LIMIT,
    )
    for match in matches:
        match["url"] = reverse(DETAIL_URLS[object_type], args=[match["id"]])
    return matches


def unless_duplicate(request, form, object_type: str, create: Callable[..., Any]):
    """A create view's save: `create(actor=request.user, **kwargs)` (the create service),
    except that it returns None and sets `form.possible_duplicates` when the record looks
    like an existing one and "Create anyway" was not pressed."""

    def save(kwargs: dict):
        if request.POST.get(CREATE_ANYWAY) != "1":
            matches = possible_duplicates(user=request.user, object_type=object_type, kwargs=kwargs)
            if matches:
                form.possible_duplicates = matches
                return None
        return create(actor=request.user, **kwargs)

    return save
