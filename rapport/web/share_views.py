"""Who may see a record, managed from its page: the Access panel lists the owner, the team
and the record's shares; people who may edit the record share it with a user or a team
(read or edit), remove a share, or transfer the record to another owner.

Generic over every owned record type (`owned_record_models()`): the URLs carry the object
type, the record is loaded through the visibility layer (not visible → 404) and the writes
go through rapport.records.services (not the owner, a manager or an admin → 403). With htmx the panel is swapped
in place; without JavaScript the same forms live on a plain page.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HttpResponseClientRedirect

from rapport.identity.selectors import teams_for, users_for
from rapport.records.exceptions import PermissionDenied, RecordNotFound, StaleVersion
from rapport.records.models import ShareAccess
from rapport.records.selectors import record_get_for_user
from rapport.records.services import record_share, record_transfer_owner, record_unshare
from rapport.records.visibility import can_manage_access, owned_record_models
from rapport.web.decorators import ui_view
from rapport.web.forms import UserChoiceField, add_service_errors
from rapport.web.fragments import is_htmx, render_fragment
from rapport.web.links import record_url
from rapport.web.record_page import STALE_MESSAGE, shares_context

PANEL = "web/record/_shares.html"
PAGE = "web/record/access.html"
# Where a record's list is, for when the user gave the record away and may no longer see it.
LIST_PATHS = {
    "account": "/accounts/",
    "contact": "/contacts/",
    "lead": "/leads/",
    "opportunity": "/opportunities/",
}


class ShareForm(forms.Form):
    """One person or one team (a single choice, grouped), and the access they get."""

    target = forms.ChoiceField(label="Share with")
    access = forms.ChoiceField(
        label="Access", choices=ShareAccess.choices, initial=ShareAccess.READ
    )

    def __init__(self, *args, user, record, **kwargs):
        super().__init__(*args, auto_id="share-%s", **kwargs)
        people = list(users_for(user).filter(is_active=True).exclude(pk=record.owner_id))
        teams = list(teams_for(user))
        self.targets = {f"user:{u.pk}": ("user", u) for u in people}
        self.targets |= {f"team:{t.pk}": ("team", t) for t in teams}
        self.fields["target"].choices = [
            ("", "Choose a person or a team"),
            ("People", [(f"user:{u.pk}", u.get_full_name() or u.username) for u in people]),
            ("Teams", [(f"team:{t.pk}", t.name) for t in teams]),
        ]

    def share_kwargs(self) -> dict:
        kind, who = self.targets[self.cleaned_data["target"]]
        return {kind: who, "access": self.cleaned_data["access"]}


class TransferForm(forms.Form):
    new_owner = UserChoiceField(queryset=None, label="New owner", empty_label="Choose a person")
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, user, record, **kwargs):
        kwargs.setdefault("initial", {"version": record.version})
        super().__init__(*args, auto_id="transfer-%s", **kwargs)
        self.fields["new_owner"].queryset = (
            users_for(user).filter(is_active=True).exclude(pk=record.owner_id)
        )


def _load(request, object_type: str, pk: int):
    model = owned_record_models().get(object_type)
    if model is None:
        raise Http404("no such kind of record")
    qs = model.objects.select_related("owner", "team")
    return record_get_for_user(model=model, pk=pk, user=request.user, qs=qs)


def access_url(record) -> str:
    return reverse("web:record_access", args=[record.OBJECT_TYPE, record.pk])


def _list_path(record) -> str:
    try:
        return reverse(f"{record._meta.app_label}:{record.OBJECT_TYPE}_list")
    except NoReverseMatch:
        return LIST_PATHS.get(record.OBJECT_TYPE, "/")


def _respond(
    request,
    record,
    *,
    manage: bool,
    share_form=None,
    transfer_form=None,
    error: str = "",
    status: int = 200,
    changed: bool = False,
):
    """The Access panel (htmx) or the plain Access page, in view or manage mode."""
    manager = can_manage_access(record, request.user)
    manage = manage and manager
    if manage:
        share_form = share_form or ShareForm(user=request.user, record=record)
        transfer_form = transfer_form or TransferForm(user=request.user, record=record)
        # The header's Share / Transfer owner buttons open the panel on their form.
        focus = request.GET.get("focus")
        if focus in ("share", "transfer"):
            form, name = (
                (share_form, "target") if focus == "share" else (transfer_form, "new_owner")
            )
            form.fields[name].widget.attrs["autofocus"] = True
    context = {
        "record": record,
        "can_manage": manager,
        "shares": shares_context(record),
        "manage": manage,
        "share_form": share_form,
        "transfer_form": transfer_form,
        "access_error": error,
        "record_page_url": record_url(record),
        "plain_page": not is_htmx(request),
    }
    if not is_htmx(request):
        return render(request, PAGE, context, status=status)
    response = render_fragment(request, PANEL, context, status=status)
    if changed:
        # The record page's timeline reloads itself: the share is on it.
        response["HX-Trigger"] = "timeline-changed"
    return response


def _after_write(request, record):
    """Back to where the form was: the panel (htmx) or the Access page."""
    if is_htmx(request):
        return _respond(request, record, manage=True, changed=True)
    return HttpResponseRedirect(access_url(record) + "?manage=1")


@ui_view
@require_safe
def record_access(request, object_type: str, pk: int):
    """The Access panel; `?manage=1` with its forms (for people who may edit the record)."""
    record = _load(request, object_type, pk)
    return _respond(request, record, manage=bool(request.GET.get("manage")))


@ui_view
@require_POST
def record_share_add(request, object_type: str, pk: int):
    """Share the record with a user or a team (sharing again changes the access)."""
    record = _load(request, object_type, pk)
    if not can_manage_access(record, request.user):
        raise PermissionDenied()
    form = ShareForm(request.POST, user=request.user, record=record)
    if form.is_valid():
        try:
            share = record_share(record=record, actor=request.user, **form.share_kwargs())
        except ValidationError as exc:
            add_service_errors(form, exc, {"user": "target", "team": "target"})
        else:
            who = share.user or share.team
            name = (
                (share.user.get_full_name() or share.user.username)
                if share.user
                else f"team {who.name}"
            )
            messages.success(request, f"Shared with {name} ({share.get_access_display().lower()}).")
            return _after_write(request, record)
    return _respond(request, record, manage=True, share_form=form, status=422)


@ui_view
@require_POST
def record_share_remove(request, object_type: str, pk: int, share_id: int):
    """Take a share away; a share that is gone already is a 404."""
    record = _load(request, object_type, pk)
    record_unshare(record=record, share_id=share_id, actor=request.user)
    messages.success(request, "Share removed.")
    if is_htmx(request):
        manage = request.POST.get("manage") == "1"
        return _respond(request, record, manage=manage, changed=True)
    return HttpResponseRedirect(access_url(record) + "?manage=1")


@ui_view
@require_POST
def record_owner_transfer(request, object_type: str, pk: int):
    """Give the record to another active user (its team follows the new owner). The
    version the form showed must still be current, else nothing changes."""
    record = _load(request, object_type, pk)
    if not can_manage_access(record, request.user):
        raise PermissionDenied()
    form = TransferForm(request.POST, user=request.user, record=record)
    if not form.is_valid():
        return _respond(request, record, manage=True, transfer_form=form, status=422)
    new_owner = form.cleaned_data["new_owner"]
    try:
        record_transfer_owner(
            record=record,
            new_owner=new_owner,
            actor=request.user,
            expected_version=form.cleaned_data["version"],
        )
    except StaleVersion:
        fresh = _load(request, object_type, pk)
        return _respond(
            request,
            fresh,
            manage=True,
            transfer_form=TransferForm(user=request.user, record=fresh),
            error=STALE_MESSAGE,
            status=409,
        )
    except ValidationError as exc:
        add_service_errors(form, exc, {"owner_id": "new_owner", "owner": "new_owner"})
        return _respond(request, record, manage=True, transfer_form=form, status=422)
    name = new_owner.get_full_name() or new_owner.username
    try:
        _load(request, object_type, pk)
        target = record_url(record)
        messages.success(request, f"{record} now belongs to {name}.")
    except RecordNotFound:
        target = _list_path(record)
        messages.success(
            request, f"{record} now belongs to {name}; it is no longer visible to you."
        )
    if is_htmx(request):
        return HttpResponseClientRedirect(target)
    return HttpResponseRedirect(target)
