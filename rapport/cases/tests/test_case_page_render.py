"""The case page's conversation entries and pickers are built in Python (`cases_ui.case_entries`
and `pair_options`), and its fixed reads run statements compiled once (rapport/cases/
prepared.py): the markup must stay what the template loops wrote, byte for byte, and the
reads must return what the ORM querysets returned — for every kind of entry (customer mail
with and without a sender name, a customer entry without mail, replies with each delivery
state and without one, internal notes with attachments, no author, text that needs escaping),
with and without the split forms, on SQLite and PostgreSQL."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import Exists, OuterRef
from django.template import Context, Template
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from rapport.cases import selectors, services
from rapport.cases.models import (
    Case,
    CaseEntry,
    CaseEntryAttachment,
    CasePriority,
    CaseStatus,
    Macro,
    Queue,
)
from rapport.cases.views import CASE_PAGE_RELATED, _agent_choices, _agents, _queue_choices

pytestmark = pytest.mark.django_db

# The loop cases/_conversation_page.html had before the entries moved to Python, verbatim.
TEMPLATE_LOOP = (
    "{% load rapport_ui %}"
    """{% for e in entries %}
        <li class="card case-entry case-entry-{{ e.kind }}" id="entry-{{ e.pk }}">
          <header class="case-entry-head">
            <span class="badge">{{ e.get_kind_display }}</span>
            <strong>{% if e.kind == "customer" %}{% if e.message %}{{ e.message.from_name|default:e.message.from_address }}{% else %}Customer{% endif %}{% else %}{{ e.author|person }}{% endif %}</strong>
            <time class="muted" datetime="{{ e.created_at|date:'c' }}">{{ e.created_at|moment }}</time>
            {% if e.message and e.kind == "reply" and e.message.delivery %}<span class="status {% if e.message.delivery.state == 'sent' %}status-success{% elif e.message.delivery.state == 'failed' %}status-danger{% else %}status-info{% endif %}">{{ e.message.delivery.get_state_display }}</span>{% endif %}
            {% if e.message %}<a class="muted" href="{% url 'mail_threads:thread' e.message.thread_id %}">email</a>{% endif %}
          </header>
          <div class="case-text">{{ e.body|linebreaksbr }}</div>
          {% with files=e.attachments.all %}{% if files %}
          <ul class="case-attachments" aria-label="Attachments">
            {% for a in files %}<li><a href="{% url 'cases:attachment' case.pk a.file_id %}" download>{{ a.file.name }}</a> <span class="muted">{{ a.file.size|filesizeformat }}</span></li>{% endfor %}
          </ul>
          {% endif %}{% endwith %}
          {% if can_work and e.kind == "customer" and splittable %}
          <form method="post" action="{% url 'cases:split' case.pk e.pk %}" class="inline-form">{% csrf_token %}<button class="link-button" type="submit">Split into a new case</button></form>
          {% endif %}
        </li>
{% endfor %}"""
)

# The pickers' loops of cases/case_detail.html before `pair_options`, verbatim.
PICKER_LOOPS = (
    "{% load cases_ui %}"
    '{% for v, l in statuses %}<option value="{{ v }}"{% if v == case.status %} selected{% endif %}>{{ l }}</option>{% endfor %}|'
    '{% for v, l in priorities %}<option value="{{ v }}"{% if v == case.priority %} selected{% endif %}>{{ l }}</option>{% endfor %}|'
    '{% for q in queues %}<option value="{{ q.pk }}"{% if q.pk == case.queue_id %} selected{% endif %}>{{ q.name }}</option>{% endfor %}|'
    '{% for code in resolution_codes %}<option value="{{ code }}"></option>{% endfor %}|'
    '{% for m in macros %}<option value="{{ m.pk }}">{{ m.name }}</option>{% endfor %}|'
    '{% for v, l in statuses %}<option value="{{ v }}">{{ l }}</option>{% endfor %}'
)
PICKER_TAGS = (
    "{% load cases_ui %}"
    "{% pair_options statuses case.status %}|{% pair_options priorities case.priority %}|"
    "{% pair_options queues case.queue_id %}|{% pair_options resolution_code_pairs %}|"
    "{% pair_options macros %}|{% pair_options statuses %}"
)


def _mail(case, *, name, address, delivery=None):
    from rapport.mail.models import Delivery, MailMessage, MailThread

    thread = MailThread.objects.create(token=f"t{case.pk}{address[:3]}{delivery}", subject="x")
    message = MailMessage.objects.create(
        thread=thread, direction="in", from_name=name, from_address=address
    )
    if delivery:
        Delivery.objects.create(message=message, state=delivery, next_attempt_at=timezone.now())
    return message


def _rich_case(personas, desk):
    """A case whose conversation holds every kind of entry the page shows."""
    case = services.case_create(
        actor=personas.owner,
        fields={"subject": "Rich <case>", "contact": desk["ann"], "queue": desk["queue"]},
        body='First line\nsecond <b>"line"</b> & more',
    )
    services.case_note(
        case=case,
        actor=personas.teammate,
        body="Internal\n\nwith files",
        uploads=[
            SimpleUploadedFile("log <1>.txt", b"x" * 2048, content_type="text/plain"),
            SimpleUploadedFile("shot.png", b"y" * 10, content_type="image/png"),
        ],
    )
    at = timezone.now() + datetime.timedelta(minutes=5)
    shapes = [
        ("customer", None, _mail(case, name="Ann <C>", address="ann@customer.example")),
        ("customer", None, _mail(case, name="", address="bare@customer.example")),
        ("reply", personas.teammate, _mail(case, name="", address="a@x.example", delivery="sent")),
        ("reply", personas.owner, _mail(case, name="", address="b@x.example", delivery="failed")),
        ("reply", personas.owner, _mail(case, name="", address="c@x.example", delivery="queued")),
        ("reply", personas.owner, _mail(case, name="", address="d@x.example")),
        ("reply", None, None),
        ("note", personas.owner, None),
    ]
    CaseEntry.objects.bulk_create(
        [
            CaseEntry(
                case=case,
                kind=kind,
                author=author,
                message=message,
                body=f"Entry {i} & <i>x</i>",
                created_at=at + datetime.timedelta(minutes=i),
            )
            for i, (kind, author, message) in enumerate(shapes)
        ]
    )
    return case


@pytest.mark.parametrize("can_work", [True, False])
@pytest.mark.parametrize("splittable", [True, False])
def test_python_entries_are_the_template_loops_markup(personas, desk, can_work, splittable):
    case = _rich_case(personas, desk)
    entries, has_older = selectors.case_entries_page(case=case)
    assert not has_older and len(entries) == 10
    assert sum(1 for e in entries if e.has_files) == 1
    context = {
        "case": case,
        "entries": entries,
        "can_work": can_work,
        "splittable": splittable,
        "csrf_token": "tok<en>",
    }
    expected = Template(TEMPLATE_LOOP).render(Context(context))
    built = Template("{% load cases_ui %}{% case_entries entries %}").render(Context(context))
    assert "Ann &lt;C&gt;" in built and "bare@customer.example" in built
    assert "status-success" in built and "status-danger" in built and "Queued" in built
    assert 'class="case-attachments"' in built and "2.0\xa0KB" in built
    assert ("Split into a new case" in built) == (can_work and splittable)
    assert built == expected
    # the older pages (the ORM path with `before`) render the same way
    older, _ = selectors.case_entries_page(case=case, before=entries[-1].pk, size=4)
    context["entries"] = older
    assert Template("{% load cases_ui %}{% case_entries entries %}").render(
        Context(context)
    ) == Template(TEMPLATE_LOOP).render(Context(context))


def test_python_pickers_are_the_template_loops_markup(personas, desk):
    case = _rich_case(personas, desk)
    Queue.objects.create(name="Billing & <Returns>")
    Macro.objects.create(name="Thanks <all>", body="x")
    Macro.objects.create(name="Off", body="x", is_active=False)
    services.case_set_status(case=case, status=CaseStatus.PENDING_CUSTOMER, actor=personas.owner)
    case.refresh_from_db()
    codes = selectors.resolution_codes()
    context = {
        "case": case,
        "statuses": CaseStatus.choices,
        "priorities": CasePriority.choices,
        "queues": _queue_choices(),
        "resolution_codes": codes,
        "resolution_code_pairs": [(code, "") for code in codes],
        "macros": selectors.macro_choices(),
    }
    built = Template(PICKER_TAGS).render(Context(context))
    context["macros"] = selectors.macros_active()
    assert built == Template(PICKER_LOOPS).render(Context(context))
    assert "Billing &amp; &lt;Returns&gt;" in built and 'pending_customer" selected' in built


def test_prepared_reads_return_what_the_querysets_return(personas, desk):
    """Each statement compiled once gives the ORM queryset's result: the case by key with
    each set of joined records, the latest conversation page (entries, authors, messages,
    deliveries, the attachment flag), queue memberships and the pickers' options."""
    case = _rich_case(personas, desk)
    Case.objects.filter(pk=case.pk).update(resolution_code="refund-x")
    case.refresh_from_db()
    for related in (None, CASE_PAGE_RELATED, ("queue", "owner")):
        found = selectors._case_by_key(related)(case.pk)
        qs = selectors.case_base()
        if related is not None:
            qs = qs.select_related(None).select_related(*related)
        (orm,) = qs.filter(pk=case.pk)
        assert [(f.name, getattr(found[0], f.attname)) for f in Case._meta.concrete_fields] == [
            (f.name, getattr(orm, f.attname)) for f in Case._meta.concrete_fields
        ]
        assert found[0]._state.fields_cache.keys() == orm._state.fields_cache.keys()
        assert selectors._case_by_key(related)(case.pk + 10_000) == []
    # soft-deleted cases are not read
    Case.objects.filter(pk=case.pk).update(deleted_at=timezone.now())
    assert selectors._case_by_key(CASE_PAGE_RELATED)(case.pk) == []
    Case.objects.filter(pk=case.pk).update(deleted_at=None)

    page, _ = selectors.case_entries_page(case=case, size=6)
    orm = list(  # the queryset the page ran before
        CaseEntry.objects.filter(case=case)
        .select_related("author", "message", "message__delivery")
        .annotate(has_files=Exists(CaseEntryAttachment.objects.filter(entry=OuterRef("pk"))))
        .order_by("-created_at", "-id")[:7]
    )[:6][::-1]
    assert [(e.pk, e.kind, e.body, e.created_at, e.has_files) for e in page] == [
        (e.pk, e.kind, e.body, e.created_at, e.has_files) for e in orm
    ]
    for mine, theirs in zip(page, orm, strict=True):
        assert (mine.author_id, mine.author and mine.author.username) == (
            theirs.author_id,
            theirs.author and theirs.author.username,
        )
        assert (mine.message and mine.message.from_address) == (
            theirs.message and theirs.message.from_address
        )
        assert getattr(getattr(mine.message, "delivery", None), "state", None) == getattr(
            getattr(theirs.message, "delivery", None), "state", None
        )
    assert selectors.queue_ids_of(personas.teammate) == [desk["queue"].pk]
    assert list(_agent_choices()) == [
        (u.pk, u.get_full_name() or u.username) for u in _agents().order_by("username")
    ]
    # the pairs kept for the same rows follow a renamed agent
    personas.teammate.first_name = "Renamed"
    personas.teammate.save(update_fields=["first_name"])
    assert (personas.teammate.pk, personas.teammate.get_full_name()) in _agent_choices()
    assert [tuple(c) for c in _queue_choices()] == list(
        Queue.objects.filter(is_active=True).values_list("pk", "name")
    )
    assert "refund-x" in selectors.resolution_codes()


def test_case_page_reads_nothing_per_entry_and_out_of_range_keys_are_404(
    personas, desk, django_assert_max_num_queries
):
    case = _rich_case(personas, desk)
    client = Client()
    client.force_login(personas.teammate)
    assert client.get(f"/cases/{case.pk}/").status_code == 200
    with CaptureQueriesContext(connection) as small:
        assert client.get(f"/cases/{case.pk}/").status_code == 200
    for i in range(6):
        services.case_note(
            case=case,
            actor=personas.owner,
            body=f"More {i}",
            uploads=[SimpleUploadedFile(f"m{i}.txt", b"m", content_type="text/plain")],
        )
    with django_assert_max_num_queries(len(small.captured_queries)):
        page = client.get(f"/cases/{case.pk}/")
    html = page.content.decode()
    assert "More 5" in html and "m5.txt" in html and "Rich &lt;case&gt;" in html
    for pk in (0, 2**63, 2**70):
        assert client.get(f"/cases/{pk}/").status_code == 404
