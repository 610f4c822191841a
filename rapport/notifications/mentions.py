"""Mentions: `@username` in an activity's body (notes, tasks, calls …) notifies that user.

The rule: `@` then a username (letters, digits and `_ . + -`, as Django allows, matched
without regard to case), not preceded by a word character (so `anna@example.com` mentions
nobody); a trailing full stop ends the sentence, not the name. Usernames are unique and
never contain spaces, so one token names one person (an `@First Last` rule would be
ambiguous). A mentioned user is notified only when they can see the activity — a mention
never shows a record to someone who may not see it — and only once per activity.
"""

import re

from django.db.models import Q

from rapport.identity.models import User
from rapport.notifications.models import NotificationKind
from rapport.notifications.services import notify

MENTION = re.compile(r"(?<![\w@])@([\w.+-]+)")
MAX_MENTIONS = 20


def mentioned_usernames(text: str) -> list[str]:
    """The usernames mentioned in `text`, lower-cased, in order, without repeats."""
    names: list[str] = []
    for match in MENTION.finditer(text or ""):
        name = match.group(1).rstrip(".").lower()
        if name and name not in names:
            names.append(name)
    return names[:MAX_MENTIONS]


def mentions_notify(*, activity, actor, old_text: str = "") -> list[User]:
    """Notify each active user newly mentioned in the activity's body who may see it;
    returns them. Call in the transaction that wrote the body."""
    from rapport.activities.selectors import activities_visible_to

    before = set(mentioned_usernames(old_text))
    names = [n for n in mentioned_usernames(activity.body) if n not in before]
    if not names:
        return []
    query = Q()
    for name in names:
        query |= Q(username__iexact=name)
    notified = []
    for user in User.objects.filter(query, is_active=True).exclude(pk=actor.pk):
        if not activities_visible_to(user).filter(pk=activity.pk).exists():
            continue
        who = actor.get_full_name() or actor.username
        text = activity.subject or " ".join(activity.body.split())[:120]
        if notify(
            user,
            NotificationKind.MENTIONED,
            title=f"{who} mentioned you: {text}",
            subject=activity,
            actor=actor,
            dedupe_key=f"mention:activity:{activity.pk}",
        ):
            notified.append(user)
    return notified
