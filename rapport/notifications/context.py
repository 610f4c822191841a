"""Template context: the unread count of the bell, counted only when a page shows it
(templates call the function; the bell reads it once with `{% with %}`)."""

from rapport.notifications.selectors import UNREAD_CAP, unread_count


def notifications(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": lambda: unread_count(user), "unread_cap": UNREAD_CAP}
