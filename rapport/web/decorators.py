"""The one decorator every UI view wears: sign-in required, and the services' errors
turned into the pages a person expects (not visible → 404, not allowed → 403)."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from ninja.errors import HttpError

from rapport.records.exceptions import PermissionDenied, RecordNotFound


def ui_view(view):
    """Require a signed-in user; RecordNotFound → 404 page, PermissionDenied → 403 page,
    a bad cursor or sort from the shared pagination → 400 page."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except RecordNotFound as exc:
            raise Http404(str(exc))
        except PermissionDenied as exc:
            raise DjangoPermissionDenied(str(exc))
        except HttpError as exc:
            if exc.status_code == 404:
                raise Http404(str(exc))
            raise BadRequest(str(exc))

    return login_required(wrapped)
