"""Template helpers of the web UI: number and money formatting, query-string links,
navigation state and toast parsing. Every helper returns text that the template
escapes; none marks user data safe."""

from decimal import Decimal

from django import template
from django.utils import formats
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def thousands(value) -> str:
    """1204 → "1,204"; a capped count "10000+" → "10,000+" (grouping of the active locale)."""
    if value is None or value == "":
        return ""
    text = str(value)
    plus = text.endswith("+")
    digits = text.rstrip("+")
    try:
        number = int(digits)
    except ValueError:
        return text
    return formats.number_format(number, force_grouping=True) + ("+" if plus else "")


@register.filter
def money(value, currency: str = "") -> str:
    """Amount with two decimals and grouping, followed by its ISO currency code."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(value)
    except (ArithmeticError, ValueError, TypeError):
        return str(value)
    text = formats.number_format(amount, decimal_pos=2, force_grouping=True)
    return f"{text} {currency}".strip()


@register.simple_tag(takes_context=True)
def query(context, **changes) -> str:
    """The current query string with `changes` applied (None removes a key); starts with ?."""
    request = context["request"]
    params = request.GET.copy()
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag(takes_context=True)
def nav_link(context, href: str, label: str) -> str:
    """A sidebar link, marked aria-current="page" when the request is under `href`."""
    path = context["request"].path
    current = path == "/" if href == "/" else path.startswith(href)
    return format_html(
        '<a class="nav-link" href="{}"{}>{}</a>',
        href,
        mark_safe(' aria-current="page"') if current else "",  # noqa: S308 - constant
        label,
    )


@register.filter
def ago(value) -> str:
    """ "just now", "5 minutes ago", "3 days ago" (the first unit only)."""
    if not value:
        return ""
    from django.utils import timezone
    from django.utils.timesince import timesince

    if abs((timezone.now() - value).total_seconds()) < 60:
        return "just now"
    return f"{timesince(value, depth=1)} ago"


@register.filter
def minutes(seconds) -> str:
    """Seconds → whole minutes (at least 1 for a non-zero duration)."""
    if not seconds:
        return ""
    return str(max(1, round(int(seconds) / 60)))


@register.filter
def toast_undo(message) -> str:
    """The undo URL a message carries in its tags ("undo:/accounts/5/restore"), or ''."""
    for tag in str(getattr(message, "extra_tags", "") or "").split():
        if tag.startswith("undo:/"):
            return tag.removeprefix("undo:")
    return ""


@register.filter
def toast_level(message) -> str:
    """success, error, warning or info: the toast's style and its spoken label."""
    level = getattr(message, "level_tag", "") or "info"
    return level if level in {"success", "error", "warning", "info"} else "info"


@register.filter
def initials(user) -> str:
    name = (user.get_full_name() or user.username or "?").split()
    return "".join(part[0] for part in name[:2]).upper()


@register.filter
def person(user) -> str:
    """A user's display name: full name, else username."""
    if user is None:
        return ""
    return user.get_full_name() or user.username


@register.filter
def country(code) -> str:
    """ "DE" → "Germany" (ISO 3166 name); an unknown code as stored."""
    from rapport.records.iso_codes import country_name

    return country_name(code or "")


@register.filter
def day(value) -> str:
    """A date in the user's locale format (the one date format of every page)."""
    from rapport.web.dates import format_day

    return format_day(value)


@register.filter
def moment(value) -> str:
    """A date and time in the user's locale format, local time."""
    from rapport.web.dates import format_moment

    return format_moment(value)


@register.filter
def event_changes(event) -> list:
    """The field changes of a timeline event (label, old, new)."""
    from rapport.web.timeline_display import event_changes as changes

    return changes(event)


@register.filter
def event_summary(event) -> str:
    from rapport.web.timeline_display import event_summary as summary

    return summary(event)


@register.filter
def key_label(key) -> str:
    """A stored key in words: "accounts_created" → "Accounts created"."""
    text = str(key or "").replace("_", " ").replace(".", " ").strip()
    return text[:1].upper() + text[1:]


@register.filter
def form_label(form, name) -> str:
    """The label of a form's field for an error line ("Due from: …", not "due_from: …")."""
    from rapport.web.forms import field_label

    return field_label(str(name), form)
