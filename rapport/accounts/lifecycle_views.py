"""Closing and reopening an account from its page (the API's POST /api/accounts/{id}/close
and /reopen): a small form page, thin over accounts.services."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from rapport.accounts import selectors, services
from rapport.accounts.services import CLOSE_REASON_MAX
from rapport.records.exceptions import Conflict, StaleVersion
from rapport.records.services import require_editable
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors
from rapport.web.record_page import STALE_MESSAGE


class AccountCloseForm(forms.Form):
    """Shape only: the service decides (no future day, not closed already)."""

    closed_at = forms.DateField(
        label="Closed on",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The day the relationship with the account ended.",
    )
    reason = forms.CharField(
        label="Reason",
        max_length=CLOSE_REASON_MAX,
        required=False,
        help_text="Optional, e.g. “moved to a competitor”.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class VersionForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1, required=False)


def _detail(account) -> str:
    return reverse("accounts:account_detail", args=[account.pk])


@ui_view
def account_close(request, pk: int):
    """GET: the form; POST: close the account (422 with the errors next to the fields, 409
    when it changed or was closed meanwhile)."""
    account = selectors.account_get_for_user(pk=pk, user=request.user)
    require_editable(account, request.user)
    initial = {"closed_at": timezone.localdate(), "version": account.version}
    form = AccountCloseForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.account_close(
                    account=account,
                    actor=request.user,
                    closed_at=data["closed_at"],
                    reason=data["reason"],
                    expected_version=data["version"],
                )
            except StaleVersion:
                form.add_error(None, STALE_MESSAGE)
                status = 409
            except Conflict as exc:
                form.add_error(None, str(exc))
                status = 409
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"{account.name} is closed.")
                return HttpResponseRedirect(_detail(account))
    context = {"record": account, "form": form, "record_url": _detail(account)}
    return render(request, "accounts/account_close.html", context, status=status)


@ui_view
@require_POST
def account_reopen(request, pk: int):
    """Reopen a closed account, back to its page with a message."""
    account = selectors.account_get_for_user(pk=pk, user=request.user)
    form = VersionForm(request.POST)
    version = form.cleaned_data.get("version") if form.is_valid() else None
    try:
        services.account_reopen(account=account, actor=request.user, expected_version=version)
    except StaleVersion:
        messages.error(request, STALE_MESSAGE)
    except Conflict as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{account.name} is open again.")
    return HttpResponseRedirect(_detail(account))
