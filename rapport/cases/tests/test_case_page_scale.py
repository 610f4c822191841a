"""The case page and the workspace lists cost a fixed number of queries whatever the length
of the conversation or of the list (bench/bench_cases.py measures them at 1M cases / 10M
entries), and the case page shows the latest page of the conversation with older pages
fetched on demand."""

import datetime
import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from rapport.cases import selectors, services
from rapport.cases.models import Case, CaseEntry, QueueMember

PAGE = selectors.CONVERSATION_PAGE


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def _grow_conversation(case, author, n: int, start: int = 0) -> None:
    """`n` more internal notes, one minute apart, after the case's existing entries."""
    base = timezone.now() + datetime.timedelta(minutes=start)
    CaseEntry.objects.bulk_create(
        [
            CaseEntry(
                case=case,
                kind="note",
                author=author,
                body=f"Entry {start + i:03}",
                created_at=base + datetime.timedelta(minutes=i),
            )
            for i in range(n)
        ]
    )


def _entry_bodies(content: bytes) -> list[str]:
    return re.findall(r"Entry \d{3}", content.decode())


def _older_url(content: bytes) -> str | None:
    found = re.search(r'hx-get="(/cases/\d+/entries\?before=\d+)"', content.decode())
    return found.group(1) if found else None


def test_case_page_shows_the_latest_page_and_pages_older_in_place(personas, desk):
    case = services.case_create(
        actor=personas.owner,
        fields={"subject": "Long story", "contact": desk["ann"], "queue": desk["queue"]},
        body="First message",
    )
    total = 2 * PAGE + 5
    _grow_conversation(case, personas.teammate, total, start=10)
    agent = _client(personas.teammate)
    page = agent.get(f"/cases/{case.pk}/")
    assert page.status_code == 200
    expected = [f"Entry {10 + i:03}" for i in range(total)]
    assert _entry_bodies(page.content) == expected[-PAGE:]
    assert b"First message" not in page.content
    # the composer, the split form and the panels are all still there
    assert b'id="case-reply-body"' in page.content and b'id="kb-suggestions"' in page.content
    seen = _entry_bodies(page.content)
    url = _older_url(page.content)
    pages = 0
    while url is not None:
        older = agent.get(url, headers={"HX-Request": "true"})
        assert older.status_code == 200
        assert b"<html" not in older.content  # a fragment, swapped in place of the link
        seen = _entry_bodies(older.content) + seen
        url = _older_url(older.content)
        pages += 1
        assert pages <= 3
    assert seen == expected
    assert b"First message" in older.content and b"Split into a new case" in older.content
    # without JavaScript the link's href renders the same page on the case page
    no_js = agent.get(f"/cases/{case.pk}/?before={CaseEntry.objects.filter(case=case).last().pk}")
    assert _entry_bodies(no_js.content) == expected[-PAGE - 1 : -1]
    # the outsider may not page someone else's conversation
    first = CaseEntry.objects.filter(case=case).last()
    assert (
        _client(personas.outsider).get(f"/cases/{case.pk}/entries?before={first.pk}").status_code
        == 404
    )
    # an entry of another case as the anchor shows nothing of either
    other = services.case_create(actor=personas.owner, fields={"subject": "x"}, body="Other")
    other_entry = CaseEntry.objects.filter(case=other).get()
    r = _client(personas.owner).get(f"/cases/{case.pk}/entries?before={other_entry.pk}")
    assert r.status_code == 200 and _entry_bodies(r.content) == []


def test_short_conversation_has_no_older_link_and_one_message_is_not_splittable(personas, desk):
    case = services.case_create(
        actor=personas.owner,
        fields={"subject": "Short", "contact": desk["ann"], "queue": desk["queue"]},
        body="Only message",
    )
    page = _client(personas.teammate).get(f"/cases/{case.pk}/")
    assert b"Only message" in page.content
    assert _older_url(page.content) is None and b"Split into a new case" not in page.content


def _case_page_queries(client, case, django_assert_max_num_queries, ceiling):
    with django_assert_max_num_queries(ceiling) as ctx:
        assert client.get(f"/cases/{case.pk}/").status_code == 200
    return len(ctx.captured_queries)


CASE_PAGE_CEILING = 30
OLDER_PAGE_CEILING = 10


def test_case_page_queries_do_not_grow_with_the_conversation(
    personas, desk, django_assert_max_num_queries
):
    case = services.case_create(
        actor=personas.owner,
        fields={"subject": "Counting", "contact": desk["ann"], "queue": desk["queue"]},
        body="Hello",
    )
    services.case_note(
        case=case,
        actor=personas.teammate,
        body="With a file",
        uploads=[SimpleUploadedFile("log.txt", b"log", content_type="text/plain")],
    )
    agent = _client(personas.teammate)
    agent.get(f"/cases/{case.pk}/")  # session and per-process caches warm
    small = _case_page_queries(agent, case, django_assert_max_num_queries, CASE_PAGE_CEILING)
    _grow_conversation(case, personas.teammate, 3 * PAGE, start=10)
    for i in range(3):
        services.case_note(
            case=case,
            actor=personas.owner,
            body=f"Late {i}",
            uploads=[SimpleUploadedFile(f"f{i}.txt", b"x", content_type="text/plain")],
        )
    big = _case_page_queries(agent, case, django_assert_max_num_queries, small)
    assert big <= small
    url = _older_url(agent.get(f"/cases/{case.pk}/").content)
    with django_assert_max_num_queries(OLDER_PAGE_CEILING):
        assert agent.get(url, headers={"HX-Request": "true"}).status_code == 200


def test_workspace_lists_queries_do_not_grow_with_the_list(
    personas, desk, django_assert_max_num_queries
):
    QueueMember.objects.get_or_create(queue=desk["queue"], user=personas.owner)

    def grow(n):
        for i in range(n):
            services.case_create(
                actor=personas.owner,
                fields={
                    "subject": f"Case {i}",
                    "contact": desk["ann"],
                    "account": desk["account"],
                    "queue": desk["queue"],
                    "owner": personas.owner if i % 2 else None,
                },
                route=False,
            )

    agent = _client(personas.owner)
    grow(2)
    counts = {}
    for view in ("mine", "unassigned"):
        agent.get(f"/cases/?view={view}")
        with django_assert_max_num_queries(20) as ctx:
            assert agent.get(f"/cases/?view={view}").status_code == 200
        counts[view] = len(ctx.captured_queries)
    grow(14)
    assert Case.objects.count() == 16
    for view in ("mine", "unassigned"):
        shown = selectors.case_list(user=personas.owner, view=view).count()
        assert shown >= 5  # the list did grow
        with django_assert_max_num_queries(counts[view]):
            page = agent.get(f"/cases/?view={view}")
        assert page.status_code == 200 and page.content.count(b'name="ids"') == shown


def test_api_conversation_is_paged_newest_first_with_cursors(
    personas, desk, django_assert_max_num_queries
):
    from rapport.conftest import ApiClient

    case = services.case_create(
        actor=personas.owner,
        fields={"subject": "Long API story", "contact": desk["ann"], "queue": desk["queue"]},
        body="First message",
    )
    total = 2 * PAGE + 5
    _grow_conversation(case, personas.teammate, total, start=10)
    api = ApiClient(personas.teammate)
    url = f"/api/cases/{case.pk}/entries"
    first = api.get(url)
    assert first.status_code == 200, first.content
    assert first.data["count"] == total + 1
    assert len(first.data["items"]) == PAGE  # the case page's page size by default
    seen, cursor, pages = [], None, 0
    while True:
        with django_assert_max_num_queries(12):
            r = api.get(url, **({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200, r.content
        seen += [e["body"] for e in r.data["items"]]
        cursor = r.data["next_cursor"]
        pages += 1
        if cursor is None:
            break
        assert pages <= 3
    expected = ["First message"] + [f"Entry {10 + i:03}" for i in range(total)]
    assert seen == expected[::-1]  # newest first, every entry once
    assert [e["body"] for e in api.get(url, limit=5).data["items"]] == expected[:-6:-1]
    # the convention's errors: a forged cursor, an unknown parameter, a limit out of range
    assert api.get(url, cursor="nope").status_code == 400
    assert api.get(url, before=1).status_code == 400
    assert api.get(url, limit=500).status_code in (400, 422)
    # who may not see the case may not page it
    assert ApiClient(personas.outsider).get(url).status_code == 404


def test_agent_lists_and_case_reads_agree_with_the_visibility_rule(personas, desk):
    """ "My cases" and "unassigned in my queues" skip the customer-visibility condition, and
    a case read tries the cheap agent branches first: both must give exactly what the full
    rule (`cases_visible_to`) gives, for every persona and every kind of case."""
    from rapport.accounts.services import account_create
    from rapport.cases.models import Queue
    from rapport.records.exceptions import RecordNotFound

    other_queue = Queue.objects.create(name="Other desk")
    QueueMember.objects.create(queue=other_queue, user=personas.outsider)
    private = account_create(actor=personas.outsider, fields={"name": "Outsider's customer"})
    cases = []
    for i, (queue, owner, account) in enumerate(
        [
            (desk["queue"], None, desk["account"]),  # unassigned in the teammate's queue
            (desk["queue"], personas.teammate, None),  # owned, own queue
            (other_queue, None, desk["account"]),  # another queue, a customer team A sees
            (other_queue, None, private),  # another queue, a private customer
            (other_queue, personas.teammate, private),  # owned in another queue
            (None, None, None),  # no queue, no customer
        ]
    ):
        cases.append(
            services.case_create(
                actor=personas.admin,
                fields={
                    "subject": f"Rule {i}",
                    "queue": queue,
                    "owner": owner,
                    "account": account,
                },
                route=False,
            )
        )
    for user in (
        personas.admin,
        personas.manager,
        personas.owner,
        personas.teammate,
        personas.reader,
        personas.outsider,
        personas.deactivated,
    ):
        visible = selectors.cases_visible_to(user)
        expected_mine = set(
            visible.filter(owner_id=user.pk, status__in=selectors.OPEN_STATUSES).values_list(
                "pk", flat=True
            )
        )
        full_unassigned = visible.filter(owner__isnull=True, status__in=selectors.OPEN_STATUSES)
        if not selectors.sees_all_cases(user):
            full_unassigned = full_unassigned.filter(queue_id__in=selectors.queue_ids_of(user))
        mine = set(selectors.case_list(user=user, view="mine").values_list("pk", flat=True))
        unassigned = selectors.case_list(user=user, view="unassigned").values_list("pk", flat=True)
        assert mine == expected_mine, user.username
        assert set(unassigned) == set(full_unassigned.values_list("pk", flat=True)), user.username
        seen = set(visible.values_list("pk", flat=True))
        for case in cases:
            try:
                got = selectors.case_get_for_user(pk=case.pk, user=user).pk
            except RecordNotFound:
                got = None
            assert got == (case.pk if case.pk in seen else None), (user.username, case.subject)
    # the rule does tell them apart: the outsider sees their queue's cases, not team A's
    ids = [c.pk for c in cases]
    outsider_sees = {
        c.subject for c in selectors.cases_visible_to(personas.outsider).filter(pk__in=ids)
    }
    assert {"Rule 2", "Rule 3", "Rule 4"} <= outsider_sees and "Rule 1" not in outsider_sees
    teammate_mine = set(
        selectors.case_list(user=personas.teammate, view="mine").values_list("subject", flat=True)
    )
    assert {"Rule 1", "Rule 4"} <= teammate_mine
    outsider_unassigned = set(
        selectors.case_list(user=personas.outsider, view="unassigned").values_list(
            "subject", flat=True
        )
    )
    assert outsider_unassigned and outsider_unassigned <= {"Rule 2", "Rule 3"}
