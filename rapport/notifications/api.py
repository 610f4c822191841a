"""REST endpoints of notifications (your own only) and your notification preferences."""

from ninja import Query, Router

from rapport.api.pagination import keyset_page
from rapport.api.patch import PatchDict
from rapport.notifications import selectors, services
from rapport.notifications.schemas import (
    MarkedOut,
    NotificationListParams,
    NotificationOut,
    NotificationPage,
    PreferencesOut,
    PreferencesPatchIn,
    UnreadCountOut,
)
from rapport.records.api import ERRORS, page_response

router = Router(tags=["notifications"])


@router.get("", response={200: NotificationPage, **ERRORS}, operation_id="notifications_list")
def notifications_list(request, filters: Query[NotificationListParams]):
    qs = selectors.notifications_for(request.user, unread=filters.unread)
    page = keyset_page(
        qs, sort="-created_at", allowed={"created_at"}, cursor=filters.cursor, limit=filters.limit
    )
    return page_response(page)


@router.get(
    "/unread-count", response={200: UnreadCountOut, **ERRORS}, operation_id="notifications_unread"
)
def notifications_unread(request):
    return {"unread": selectors.unread_count(request.user)}


@router.post(
    "/{int:pk}/read",
    response={200: NotificationOut, **ERRORS},
    operation_id="notification_mark_read",
    summary="Mark one of your notifications read",
)
def notification_mark_read(request, pk: int):
    notification = selectors.notification_get_for_user(pk=pk, user=request.user)
    services.notification_mark_read(notification=notification, user=request.user)
    return selectors.notification_get_for_user(pk=pk, user=request.user)


@router.post(
    "/read-all",
    response={200: MarkedOut, **ERRORS},
    operation_id="notifications_mark_all_read",
    summary="Mark all your notifications read",
)
def notifications_mark_all_read(request):
    return {"marked": services.notifications_mark_all_read(user=request.user)}


@router.get(
    "/preferences", response={200: PreferencesOut, **ERRORS}, operation_id="preferences_get"
)
def preferences_get(request):
    return services.preferences_for(request.user)


@router.patch(
    "/preferences",
    response={200: PreferencesOut, **ERRORS},
    operation_id="preferences_update",
    summary="Change your notification preferences (channels, working hours, time zone)",
)
def preferences_update(request, payload: PatchDict[PreferencesPatchIn]):
    return services.preferences_update(user=request.user, changes=dict(payload))
