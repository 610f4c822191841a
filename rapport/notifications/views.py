"""Pages of notifications: the bell (an htmx fragment), the list, and your preferences."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from rapport.api.pagination import keyset_page
from rapport.identity.selectors import users_for
from rapport.notifications import selectors, services
from rapport.notifications.forms import PreferencesForm
from rapport.web.decorators import ui_view
from rapport.web.forms import add_service_errors
from rapport.web.fragments import is_htmx, render_fragment

PAGE_SIZE = 30
CHANGED = "notifications-changed"


def _bell(request, status=200):
    return render_fragment(request, "notifications/_bell.html", status=status)


@ui_view
def bell(request):
    """The top bar's bell with the unread count (polled, and reloaded after a change)."""
    return _bell(request)


@ui_view
def notification_list(request):
    unread_only = request.GET.get("show") == "unread"
    qs = selectors.notifications_for(request.user, unread=unread_only)
    page = keyset_page(
        qs,
        sort="-created_at",
        allowed={"created_at"},
        cursor=request.GET.get("cursor") or None,
        limit=PAGE_SIZE,
        with_count=False,
    )
    return render(
        request,
        "notifications/list.html",
        {"notifications": page.items, "next_cursor": page.next_cursor, "unread_only": unread_only},
    )


@ui_view
def notification_open(request, pk: int):
    """Follow a notification to its subject, marking it read on the way."""
    notification = selectors.notification_get_for_user(pk=pk, user=request.user)
    services.notification_mark_read(notification=notification, user=request.user)
    target = notification.link
    if not target or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("notifications:list")
    return HttpResponseRedirect(target)


@ui_view
@require_POST
def notification_read(request, pk: int):
    notification = selectors.notification_get_for_user(pk=pk, user=request.user)
    services.notification_mark_read(notification=notification, user=request.user)
    if is_htmx(request):
        notification.refresh_from_db()
        response = render_fragment(request, "notifications/_item.html", {"n": notification})
        response["HX-Trigger"] = CHANGED
        return response
    return HttpResponseRedirect(reverse("notifications:list"))


@ui_view
@require_POST
def notification_read_all(request):
    marked = services.notifications_mark_all_read(user=request.user)
    messages.success(request, f"Marked {marked} notification{'s' if marked != 1 else ''} read.")
    return HttpResponseRedirect(reverse("notifications:list"))


@ui_view
def preferences(request):
    preference = services.preferences_for(request.user)
    status = 200
    if request.method == "POST":
        form = PreferencesForm(request.POST, preference=preference)
        if form.is_valid():
            try:
                services.preferences_update(user=request.user, changes=form.changes())
            except ValidationError as exc:
                add_service_errors(form, exc, {})
            else:
                messages.success(request, "Notification settings saved.")
                return HttpResponseRedirect(reverse("notifications:preferences"))
        status = 422
    else:
        form = PreferencesForm(preference=preference)
    return render(request, "notifications/preferences.html", {"form": form}, status=status)


@ui_view
def mention_suggest(request):
    """Colleagues whose username or name starts with `q`, for the @mention suggestions."""
    q = request.GET.get("q", "")[:30]
    users = users_for(request.user).filter(is_active=True).exclude(pk=request.user.pk)
    if q:
        users = users.filter(
            Q(username__istartswith=q) | Q(first_name__istartswith=q) | Q(last_name__istartswith=q)
        )
    return JsonResponse(
        {
            "users": [
                {"username": u.username, "name": u.get_full_name() or u.username}
                for u in users.order_by("username")[:8]
            ]
        }
    )
