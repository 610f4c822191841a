"""The one decorator every UI view wears: sign-in required, and the services' errors
turned into the pages a person expects (not visible → 404, not allowed → 403)."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.shortcuts import render
from ninja.errors import HttpError

from rapport.records.exceptions import Conflict, PermissionDenied, RecordNotFound
from rapport.web.fragments import is_htmx, render_fragment


def conflict_response(request, exc: Conflict):
    """The action clashes with the record's state (a converted lead, a stage in use…): htmx
    gets the message as a toast and swaps nothing; a plain request gets a 409 page saying why."""
    if is_htmx(request):
        messages.error(request, str(exc))
        response = render_fragment(request, "web/_empty.html", status=409)
        response["HX-Reswap"] = "none"
        return response
    return render(request, "409.html", {"message": str(exc)}, status=409)


def ui_view(view):
    """Require a signed-in user; RecordNotFound → 404 page, PermissionDenied → 403 page,
    Conflict → 409 (a toast for htmx), a bad cursor or sort from the shared pagination → 400."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except RecordNotFound as exc:
            raise Http404(str(exc))
        except PermissionDenied as exc:
            raise DjangoPermissionDenied(str(exc))
        except Conflict as exc:
            return conflict_response(request, exc)
        except HttpError as exc:
            if exc.status_code == 404:
                raise Http404(str(exc))
            raise BadRequest(str(exc))

    return login_required(wrapped)


def allowed_by(check):
    """Run the service's own permission check (`check(user)`, raising PermissionDenied)
    before the view, so a form the service would refuse is not shown first: a read-only user
    opening "New account" gets the 403 page saying why, not a form that fails on save."""

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            try:
                check(request.user)
            except PermissionDenied as exc:
                raise DjangoPermissionDenied(str(exc))
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorate
