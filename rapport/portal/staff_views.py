"""Staff pages for portal access: who has it, invite a contact (from the contact page),
revoke, and the per-account "see the whole company's cases" setting."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from rapport.accounts.models import Account, Contact
from rapport.portal import services
from rapport.portal.models import PortalAccountSetting, PortalUser
from rapport.records.exceptions import RecordNotFound
from rapport.records.visibility import visible
from rapport.web.decorators import ui_view


def _contact(user, pk) -> Contact:
    contact = visible(Contact.objects.all(), user).filter(pk=pk).first()
    if contact is None:
        raise RecordNotFound("contact")
    return contact


def _next(request) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return "portal_staff:users"


@ui_view
def portal_users(request):
    contacts = visible(Contact.objects.all(), request.user).values("pk")
    users = (
        PortalUser.objects.filter(contact__in=contacts)
        .select_related("contact", "contact__account", "invited_by")
        .order_by("-invited_at", "email")[:200]
    )
    return render(request, "portal/staff_users.html", {"portal_users": users})


@ui_view
@require_POST
def invite(request, contact_id: int):
    contact = _contact(request.user, contact_id)
    try:
        services.portal_invite(contact=contact, actor=request.user)
    except ValidationError as exc:
        for msgs in exc.message_dict.values():
            for message in msgs:
                messages.error(request, message)
    else:
        messages.success(request, f"Portal invitation sent to {contact.email}.")
    return redirect(_next(request))


@ui_view
@require_POST
def revoke(request, pk: int):
    contacts = visible(Contact.objects.all(), request.user).values("pk")
    portal_user = PortalUser.objects.filter(pk=pk, contact__in=contacts).first()
    if portal_user is None:
        raise RecordNotFound("portal user")
    services.portal_revoke(portal_user=portal_user, actor=request.user)
    messages.success(request, f"Portal access of {portal_user.email} revoked.")
    return redirect("portal_staff:users")


@ui_view
@require_POST
def account_setting(request, account_id: int):
    account = visible(Account.objects.all(), request.user).filter(pk=account_id).first()
    if account is None:
        raise RecordNotFound("account")
    services.account_setting_set(
        account=account, company_cases=request.POST.get("company_cases") == "1", actor=request.user
    )
    messages.success(request, "Portal setting saved.")
    return redirect(_next(request))


def contact_portal_state(contact) -> dict:
    """For the contact page card: the portal user (if any) and the account's setting."""
    portal_user = PortalUser.objects.filter(contact=contact).first()
    setting = (
        PortalAccountSetting.objects.filter(account_id=contact.account_id).first()
        if contact.account_id
        else None
    )
    return {"portal_user": portal_user, "company_cases": bool(setting and setting.company_cases)}
