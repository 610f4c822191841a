"""Template filters of the service desk pages."""

from html import escape

from django import template
from django.utils import timezone

from rapport.web.templatetags.rapport_ui import _url_parts, _with_keys

register = template.Library()


@register.filter
def due_class(value, now=None) -> str:
    if not value:
        return ""
    left = (value - (now or timezone.now())).total_seconds()
    if left < 0:
        return "status-danger"
    if left < 4 * 3600:
        return "status-warning"
    return "status-info"


_STATUS = {
    "new": "status-info",
    "open": "status-info",
    "pending_customer": "status-warning",
    "on_hold": "status-warning",
    "resolved": "status-success",
    "closed": "",
}


@register.filter
def case_status_class(value) -> str:
    return _STATUS.get(value, "")


@register.simple_tag
def agent_options(agents, selected=None):
    """The `<option>`s of an owner picker (every agent of the desk, on every case page and
    workspace): the agents are `AgentChoice` (pk, name) pairs, written by `pair_options`."""
    return pair_options(agents, selected)


@register.simple_tag
def pair_options(pairs, selected=None):
    """The `<option>`s of a picker from (value, label) pairs, the one equal to `selected`
    marked: what `{% for v, l in pairs %}<option value="{{ v }}"{% if v == selected %}
    selected{% endif %}>{{ l }}</option>{% endfor %}` wrote. The markup of a list of plain
    pairs (int or str values and str labels: the pickers' agents, queues, macros, statuses)
    is built once per process and list (`_options`), and only the selected option is marked
    on each call: escaping ~250 options cost ~1 ms of CPU a case page."""
    from django.utils.safestring import mark_safe

    built = _options(pairs)
    if built is None:
        html = "".join(
            f'<option value="{_esc(v)}"{" selected" if v == selected else ""}>{_esc(label)}</option>'
            for v, label in pairs
        )
    else:
        html, marks = built
        try:
            at = marks.get(selected, ())
        except TypeError:  # an unhashable value equals none of the plain values
            at = ()
        for offset in reversed(at):
            html = f"{html[:offset]} selected{html[offset:]}"
    return mark_safe(html)  # noqa: S308 - every value is escaped, the rest is constant


_PLAIN = (int, str)
_OPTIONS: dict[tuple, tuple[str, dict]] = {}
_OPTIONS_KEPT = 64  # distinct lists kept (a desk's pickers change when its agents do)


def _options(pairs) -> tuple[str, dict] | None:
    """The options of plain `pairs` unselected, and where " selected" goes for each value
    (the offsets after its `value="…"`), or None for pairs that are not plain. Built once
    per distinct list: an equal list (same values, labels and types) is the same markup."""
    key = tuple(pairs)
    if not all(
        type(pair) is not str
        and len(pair) == 2
        and type(pair[0]) in _PLAIN
        and type(pair[1]) is str
        for pair in key
    ):
        return None
    built = _OPTIONS.get(key)
    if built is None:
        parts, marks, offset = [], {}, 0
        for value, label in key:
            head = f'<option value="{_esc(value)}"'
            offset += len(head)
            marks.setdefault(value, []).append(offset)
            part = f"{head}>{_esc(label)}</option>"
            offset += len(part) - len(head)
            parts.append(part)
        built = ("".join(parts), {value: tuple(at) for value, at in marks.items()})
        if len(_OPTIONS) >= _OPTIONS_KEPT:
            _OPTIONS.clear()
        _OPTIONS[key] = built
    return built


def _esc(value) -> str:
    """`conditional_escape` without its lazy-wrapper cost: safe strings as they are, the rest
    through `html.escape` (what Django's `escape` runs)."""
    if type(value) is int:
        return str(value)
    if hasattr(value, "__html__"):
        return value.__html__()
    return escape(str(value))


def _due_cell(case, now) -> str:
    from rapport.sla.templatetags.sla import sla_due
    from rapport.web.dates import format_moment

    if not case.is_open:
        return '<span class="muted">—</span>'
    phrase = _esc(sla_due(case, "short") or "—")
    if not case.due_at:
        return f'<span class="muted">{phrase}</span>'
    return (
        f'<span class="status {_esc(due_class(case.due_at, now))}"'
        f' title="{_esc(format_moment(case.due_at))}">{phrase}</span>'
    )


def _around_key(name: str, *args) -> tuple[str, str]:
    """The URL `name` with `args` and a last key, split around that key: the page's links
    differ only by their last key (head + str(key) + tail)."""
    parts = _url_parts(name, len(args) + 1)
    return _with_keys(parts[:-1], args), parts[-1]


def _escaped_labels(model, name: str) -> dict:
    """A choice field's labels by value, escaped, in the active language."""
    return {value: _esc(label) for value, label in model._meta.get_field(name).flatchoices}


def _label(labels: dict, value) -> str:
    """`_esc(case.get_<field>_display())` read from `_escaped_labels`."""
    found = labels.get(value)
    return found if found is not None else _esc(value)


@register.simple_tag
def case_rows(rows, can_work=False):
    """The workspace's table rows, built in Python: the same markup the template loop wrote
    (kept byte for byte; rapport/cases/tests/test_workspace_rows.py compares them), at a
    fraction of the CPU — 50 rows through the template engine cost ~10 ms a page (variable
    lookups, per-value localisation, a reverse() per row)."""
    from django.utils.safestring import mark_safe

    from rapport.cases.models import Case
    from rapport.web.templatetags.rapport_ui import person

    # One reverse() for the page; every row's link differs only by its key.
    url_head, url_tail = _around_key("cases:detail")
    now = timezone.now()
    # The choice labels escaped once a page (what get_<field>_display returns, a value
    # without a label as it is): ~100 get_..._display calls a page cost ~1 ms of CPU.
    status_label = _escaped_labels(Case, "status")
    priority_label = _escaped_labels(Case, "priority")
    tier_label = _escaped_labels(Case, "tier")
    out = []
    for c in rows:
        url = f"{url_head}{int(c.pk)}{url_tail}"
        number = _esc(c.number)
        check = (
            f'<td class="col-check"><input type="checkbox" name="ids" value="{int(c.pk)}"'
            f' form="bulk-form" aria-label="Select case {number}"></td>'
            if can_work
            else ""
        )
        tier = (
            f' <span class="badge tier-{_esc(c.tier)}">{_label(tier_label, c.tier)}</span>'
            if c.tier and c.tier != "standard"
            else ""
        )
        if c.contact:
            customer = _esc(c.contact)
        elif c.account:
            customer = _esc(c.account)
        else:
            customer = '<span class="muted">—</span>'
        queue = c.queue.name if c.queue is not None else ""
        owner = _esc(person(c.owner)) if c.owner else '<span class="muted">Unassigned</span>'
        out.append(
            f"<tr>\n    {check}\n"
            f'    <td class="num"><a href="{url}">#{number}</a></td>\n'
            f'    <td class="cell-primary"><a href="{url}">{_esc(c.subject)}</a>{tier}</td>\n'
            f"    <td>{customer}</td>\n"
            f'    <td><span class="status {_esc(case_status_class(c.status))}">'
            f"{_label(status_label, c.status)}</span></td>\n"
            f'    <td><span class="priority priority-{_esc(c.priority)}">'
            f"{_label(priority_label, c.priority)}</span></td>\n"
            f"    <td>{_esc(queue) if queue else '—'}</td>\n"
            f"    <td>{owner}</td>\n"
            f"    <td>{_due_cell(c, now)}</td>\n"
            "  </tr>"
        )
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped


def _csrf_input(context) -> str:
    """What `{% csrf_token %}` writes."""
    token = context.get("csrf_token")
    if not token:
        return ""
    if token == "NOTPROVIDED":
        return ""
    return f'<input type="hidden" name="csrfmiddlewaretoken" value="{_esc(token)}">'


def _entry_author(e) -> str:
    from rapport.web.templatetags.rapport_ui import person

    if e.kind != "customer":
        return _esc(person(e.author))
    message = e.message
    if not message:
        return "Customer"
    return _esc(message.from_name or message.from_address)


def _delivery_badge(message) -> str:
    from django.core.exceptions import ObjectDoesNotExist

    try:
        delivery = message.delivery
    except ObjectDoesNotExist:  # the template's lookup treated a missing one as empty
        return ""
    if not delivery:
        return ""
    state = delivery.state
    css = (
        "status-success"
        if state == "sent"
        else "status-danger"
        if state == "failed"
        else "status-info"
    )
    return f'<span class="status {css}">{_esc(delivery.get_state_display())}</span>'


@register.simple_tag(takes_context=True)
def case_entries(context, entries):
    """The case page's conversation entries, built in Python: the markup the template loop
    of cases/_conversation_page.html wrote (byte for byte; rapport/cases/tests/
    test_case_page_render.py compares them), without the template engine's per-entry cost
    (variable lookups, filters, a reverse() per link)."""
    from django.template.defaultfilters import filesizeformat, linebreaksbr
    from django.utils.safestring import mark_safe

    from rapport.web.dates import format_moment

    case = context["case"]
    case_pk = int(case.pk)
    splits = bool(context.get("can_work")) and bool(context.get("splittable"))
    # One reverse() per kind of link for the page; the links differ only by their keys.
    thread_head, thread_tail = _around_key("mail_threads:thread")
    file_head, file_tail = _around_key("cases:attachment", case_pk)
    split_head, split_tail = _around_key("cases:split", case_pk)
    csrf = _csrf_input(context) if splits else ""
    out = []
    for e in entries:
        kind = _esc(e.kind)
        message = e.message
        head = [
            f'\n        <li class="card case-entry case-entry-{kind}" id="entry-{int(e.pk)}">\n'
            '          <header class="case-entry-head">\n'
            f'            <span class="badge">{_esc(e.get_kind_display())}</span>\n'
            f"            <strong>{_entry_author(e)}</strong>\n"
            f'            <time class="muted" datetime="{_esc(_iso_local(e.created_at))}">'
            f"{_esc(format_moment(e.created_at))}</time>\n"
            "            "
        ]
        if message and e.kind == "reply":
            head.append(_delivery_badge(message))
        head.append("\n            ")
        if message:
            head.append(
                f'<a class="muted" href="{thread_head}{int(message.thread_id)}{thread_tail}">'
                "email</a>"
            )
        head.append(
            "\n          </header>\n"
            f'          <div class="case-text">{linebreaksbr(e.body, autoescape=True)}</div>\n'
            "          "
        )
        # `has_files` (case_entries_page): no attachment to read, not even the prefetched.
        files = e.attachments.all() if getattr(e, "has_files", True) else ()
        if files:
            head.append(
                '\n          <ul class="case-attachments" aria-label="Attachments">\n            '
            )
            for a in files:
                head.append(
                    f'<li><a href="{file_head}{int(a.file_id)}{file_tail}" download>'
                    f"{_esc(a.file.name)}</a>"
                    f' <span class="muted">{_esc(filesizeformat(a.file.size))}</span></li>'
                )
            head.append("\n          </ul>\n          ")
        head.append("\n          ")
        if splits and e.kind == "customer":
            head.append(
                f'\n          <form method="post" action="{split_head}{int(e.pk)}{split_tail}"'
                f' class="inline-form">{csrf}<button class="link-button" type="submit">'
                "Split into a new case</button></form>\n          "
            )
        head.append("\n        </li>\n")
        out.append("".join(head))
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped


def _iso_local(value) -> str:
    """`value|date:'c'`: the ISO 8601 form of the value in the current time zone."""
    if value is None:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.isoformat()
