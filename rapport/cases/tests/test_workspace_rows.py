"""The workspace's rows are built in Python (`cases_ui.case_rows`, ~10 ms of CPU less a
page than the template loop): the markup must stay what the template loop wrote, for every
kind of row — customer contact / account / none, tier badge, owner or unassigned, queue or
none, an SLA due time in business time, an open case without a clock, a closed case, text
that needs escaping — with and without the bulk checkboxes."""

import re

import pytest
import time_machine
from django.template import Context, Template
from django.test import Client

from rapport.cases.models import Case
from rapport.cases.views import CASE_PAGE_RELATED
from rapport.sla.policies import sla_policy_save
from rapport.sla.services import sla_on_case_event
from rapport.sla.tests.conftest import paris

pytestmark = pytest.mark.django_db

# The loop workspace.html had before the rows moved to Python, verbatim.
TEMPLATE_LOOP = (
    "{% load rapport_ui cases_ui sla %}"
    """{% for c in rows %}{% url 'cases:detail' c.pk as case_url %}<tr>
    {% if can_work %}<td class="col-check"><input type="checkbox" name="ids" value="{{ c.pk }}" form="bulk-form" aria-label="Select case {{ c.number }}"></td>{% endif %}
    <td class="num"><a href="{{ case_url }}">#{{ c.number }}</a></td>
    <td class="cell-primary"><a href="{{ case_url }}">{{ c.subject }}</a>{% if c.tier and c.tier != "standard" %} <span class="badge tier-{{ c.tier }}">{{ c.get_tier_display }}</span>{% endif %}</td>
    <td>{% if c.contact %}{{ c.contact }}{% elif c.account %}{{ c.account }}{% else %}<span class="muted">—</span>{% endif %}</td>
    <td><span class="status {{ c.status|case_status_class }}">{{ c.get_status_display }}</span></td>
    <td><span class="priority priority-{{ c.priority }}">{{ c.get_priority_display }}</span></td>
    <td>{{ c.queue.name|default:"—" }}</td>
    <td>{% if c.owner %}{{ c.owner|person }}{% else %}<span class="muted">Unassigned</span>{% endif %}</td>
    <td>{% if c.due_at and c.is_open %}<span class="status {{ c.due_at|due_class }}" title="{{ c.due_at|moment }}">{{ c|sla_due:"short"|default:"—" }}</span>{% elif c.is_open %}<span class="muted">{{ c|sla_due:"short"|default:"—" }}</span>{% else %}<span class="muted">—</span>{% endif %}</td>
  </tr>{% endfor %}"""
)


def _variety(personas, desk, office):
    """Cases of every shape a workspace row has."""
    sla_policy_save(
        actor=personas.admin,
        data={"name": "Standard", "first_response_minutes": 240, "calendar": office},
    )
    made = [
        Case.objects.create(
            number=101,
            subject='Printer <b>"on fire"</b> & smoke',
            contact=desk["ann"],
            account=desk["account"],
            queue=desk["queue"],
            owner=personas.teammate,
            tier="gold",
            priority="high",
        ),
        Case.objects.create(
            number=102, subject="Account only", account=desk["account"], tier="standard"
        ),
        Case.objects.create(number=103, subject="Nobody's", status="closed"),
        Case.objects.create(number=104, subject="Waiting", status="pending_customer"),
    ]
    with time_machine.travel(paris(2026, 5, 4, 9), tick=False):
        sla_on_case_event(case=made[0], event="created")
        sla_on_case_event(case=made[1], event="created")
    desk["account"].name = "Customer <Ltd> & Sons"
    desk["account"].save(update_fields=["name"])
    return Case.objects.select_related(
        "queue", "owner", "account", "contact", "sla_clock__policy__calendar"
    ).order_by("number")


@pytest.mark.parametrize("can_work", [True, False])
@pytest.mark.parametrize("at", [paris(2026, 5, 4, 10, 47), paris(2026, 5, 4, 15, 30)])
def test_python_rows_are_the_template_loops_markup(personas, desk, office, can_work, at):
    rows = _variety(personas, desk, office)
    with time_machine.travel(at, tick=False):
        rows = list(rows)
        assert any(c.due_at for c in rows) and any(c.contact_id for c in rows)
        context = {"rows": rows, "can_work": can_work}
        expected = Template(TEMPLATE_LOOP).render(Context(context))
        built = Template("{% load cases_ui %}{% case_rows rows can_work %}").render(
            Context(context)
        )
    assert "&lt;b&gt;&quot;on fire&quot;&lt;/b&gt; &amp; smoke" in built
    assert "(business time)" not in built and " min" in built
    assert built == expected


def test_workspace_page_lists_the_rows(personas, desk, office):
    _variety(personas, desk, office)
    client = Client()
    client.force_login(personas.admin)
    html = client.get("/cases/?view=all").content.decode()
    assert 'aria-label="Select case 101"' in html and "Customer &lt;Ltd&gt; &amp; Sons" in html
    assert html.count('<td class="num"><a href="/cases/') == 4


def test_case_page_joins_only_what_it_shows_and_reads_nothing_lazily(personas, desk, office):
    """The case page loads the case with CASE_PAGE_RELATED only; nothing on the page reads
    the queue, owner, account or contact through the case (that would be a query each)."""
    case = _variety(personas, desk, office).first()
    client = Client()
    client.force_login(personas.owner)
    assert client.get(f"/cases/{case.pk}/").status_code == 200  # warm the per-user caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        page = client.get(f"/cases/{case.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Ann Customer" in html and "Customer &lt;Ltd&gt; &amp; Sons" in html
    first_case_read = next(q["sql"] for q in ctx.captured_queries if '"cases_case"' in q["sql"])
    assert '"cases_queue"' not in first_case_read and '"accounts_contact"' not in first_case_read
    assert set(CASE_PAGE_RELATED) == {"category", "subcategory", "sla_clock__policy__calendar"}
    # A lazy load through a relation reads one row by key (`WHERE "t"."id" = n LIMIT 21`):
    # only the session's user is read that way.
    lazy = [
        m.group(1)
        for q in ctx.captured_queries
        if (m := re.search(r'WHERE "(\w+)"\."id" = \d+ LIMIT 21$', q["sql"]))
    ]
    assert lazy == ["identity_user"], lazy


@pytest.mark.parametrize("who", ["admin", "owner", "teammate"])
def test_workspace_reads_only_the_row_columns_and_nothing_lazily(personas, desk, office, who):
    """The workspace loads WORKSPACE_ROW_FIELDS only: a column the rows read that is not in
    it would be one more statement per row (a deferred field or a relation loaded by key)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _variety(personas, desk, office)
    client = Client()
    client.force_login(getattr(personas, who))
    assert client.get("/cases/?view=all").status_code == 200  # the calendar spec's cache
    for view in ("all", "mine", "unassigned", "open", "breaching"):
        with CaptureQueriesContext(connection) as ctx:
            page = client.get(f"/cases/?view={view}")
        assert page.status_code == 200
        lazy = [
            m.group(1)
            for q in ctx.captured_queries
            if (m := re.search(r'WHERE "(\w+)"\."id" = \d+ LIMIT 21$', q["sql"]))
        ]
        assert lazy == ["identity_user"], (view, lazy)
        assert not any('"cases_case"."description"' in q["sql"] for q in ctx.captured_queries)
    client.force_login(personas.admin)
    html = client.get("/cases/?view=all").content.decode()
    assert html.count('<td class="num"><a href="/cases/') == 4 and "breached " in html


def test_the_default_page_compiled_once_reads_what_case_list_reads(personas, desk, office):
    """ "My cases" of an agent who does not see every case runs a statement compiled once per
    process (`_MY_OPEN_ROWS`): the same rows, in the same order, with the same columns and
    related rows as `case_list(view="mine")` shaped for the workspace, and the same page."""
    from rapport.cases import selectors
    from rapport.cases.views import _MY_OPEN_ROWS, WORKSPACE_ROW_FIELDS, _workspace_rows

    _variety(personas, desk, office)
    Case.objects.filter(number__in=[102, 104]).update(owner=personas.teammate)
    for user in (personas.teammate, personas.owner, personas.reader):
        expected = list(_workspace_rows(selectors.case_list(user=user, view="mine")))
        got = _MY_OPEN_ROWS(user.pk)
        assert [c.pk for c in got] == [c.pk for c in expected], user.username
        for a, b in zip(got, expected, strict=True):
            assert a.get_deferred_fields() == b.get_deferred_fields()
            for path in ("pk", *WORKSPACE_ROW_FIELDS):
                assert _walk(a, path) == _walk(b, path), path
    assert [c.number for c in _MY_OPEN_ROWS(personas.teammate.pk)] != []
    client = Client()
    client.force_login(personas.teammate)
    html = client.get("/cases/?view=mine").content.decode()
    assert html.count('<td class="num"><a href="/cases/') == len(
        _MY_OPEN_ROWS(personas.teammate.pk)
    )


def _walk(row, path: str):
    """The value at `queue__name`-like paths, None past a missing related row."""
    for name in path.split("__"):
        try:
            row = getattr(row, name)
        except Exception:  # a reverse one-to-one without a row
            return None
        if row is None:
            return None
    return row
