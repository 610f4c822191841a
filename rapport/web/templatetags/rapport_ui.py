"""Template helpers of the web UI: number and money formatting, query-string links,
navigation state and toast parsing. Every helper returns text that the template
escapes; none marks user data safe."""

import re
from decimal import Decimal
from html import unescape

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


def _is_current(path: str, href: str) -> bool:
    return path == "/" if href == "/" else path.startswith(href)


@register.simple_tag(takes_context=True)
def nav_link(context, href: str, label: str) -> str:
    """A sidebar link, marked aria-current="page" when the request is under `href`."""
    current = _is_current(context["request"].path, href)
    return format_html(
        '<a class="nav-link" href="{}"{}>{}</a>',
        href,
        mark_safe(' aria-current="page"') if current else "",  # noqa: S308 - constant
        label,
    )


# What web/_sidebar.html may read besides nav_link and {% url %}: these abilities (`can.…`).
# The sidebar is the same text for everyone with the same answers, but for the current link.
SIDEBAR_ABILITIES = ("view_marketing_reports", "import_records", "view_settings")
_NAV_LINK = re.compile(r'<a class="nav-link" href="([^"]*)">')
_sidebars: dict[tuple, str] = {}


class _NoPage:
    """A request under no link (nav_link marks nothing current for it)."""

    path = ""


@register.simple_tag(takes_context=True)
def sidebar(context) -> str:
    """web/_sidebar.html, rendered once per process for each combination of the
    SIDEBAR_ABILITIES answers with no link current, then the links the request is under
    marked aria-current="page" by nav_link's own rule. The same text as the include
    (test_sidebar.py renders both for every persona and section); ~25 nav_link tags and
    their template nodes were ~0.5 ms of CPU on every page."""
    template = context.template.engine.get_template("web/_sidebar.html")
    can = context.get("can")
    if can is None or "request" not in context:
        return template.render(context)
    answers = tuple(bool(getattr(can, name)) for name in SIDEBAR_ABILITIES)
    key = (template, answers)
    html = _sidebars.get(key)
    if html is None:
        fixed = {name: answer for name, answer in zip(SIDEBAR_ABILITIES, answers, strict=True)}
        html = template.render(context.new({"request": _NoPage, "can": fixed}))
        if len(_sidebars) > 64:  # old templates of a development server's reloads
            _sidebars.clear()
        _sidebars[key] = html
    path = context["request"].path

    def mark(match: re.Match) -> str:
        if _is_current(path, unescape(match.group(1))):
            return f'{match.group(0)[:-1]} aria-current="page">'
        return match.group(0)

    return mark_safe(_NAV_LINK.sub(mark, html))  # noqa: S308 - the template's own output


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


# Keys no URL is reversed with: where each one lands in the reversed URL is where the
# caller's key goes.
_URL_MARK = 987_654_321_000
_URL_PARTS: dict[tuple, tuple[str, ...]] = {}


def _url_parts(name: str, nargs: int) -> tuple[str, ...]:
    """The URL `name` reversed once per process (script prefix and URLconf) with `nargs`
    marker keys, split around them: the text before, between and after the keys."""
    from django.urls import get_script_prefix, get_urlconf, reverse

    key = (name, nargs, get_script_prefix(), get_urlconf())
    parts = _URL_PARTS.get(key)
    if parts is None:
        rest, found = reverse(name, args=[_URL_MARK + i for i in range(nargs)]), []
        for i in range(nargs):
            before, mark, rest = rest.partition(str(_URL_MARK + i))
            if not mark:
                raise ValueError(f"the URL {name} does not carry its keys as written")
            found.append(before)
        parts = _URL_PARTS.setdefault(key, (*found, rest))
    return parts


@register.simple_tag
def fixed_url(name: str, *keys) -> str:
    """`{% url name key… %}` for routes without arguments or with integer keys, reversed
    once per process, script prefix and URLconf, the keys filled in: each `{% url %}`
    resolved the pattern again (the top bar has ten on every page, the case page ~15)."""
    return _with_keys(_url_parts(name, len(keys)), keys)


def _with_keys(parts: tuple[str, ...], keys) -> str:
    """`parts` (from `_url_parts`) with the integer `keys` between them."""
    out = [parts[0]]
    for key, part in zip(keys, parts[1:], strict=True):
        out.append(str(int(key)))
        out.append(part)
    return "".join(out)


_FIXED_STATIC: dict[tuple, str] = {}


@register.simple_tag
def fixed_static(path: str) -> str:
    """`{% static path %}` computed once per process and STATIC_URL (the layout links fifteen
    assets on every page)."""
    from django.conf import settings
    from django.templatetags.static import static

    key = (path, settings.STATIC_URL)  # the script prefix is in it
    found = _FIXED_STATIC.get(key)
    if found is None:
        found = _FIXED_STATIC[key] = static(path)
    return found
