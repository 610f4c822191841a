"""A list page looked for among the first rows of its filters with visibility probed per
row (keyset_page prefix_first) is exactly the page the visibility sets give, for every
persona, on every page of a cursor walk, whether the prefix holds the page or not."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rapport.activities.selectors import activity_list
from rapport.activities.tests.conftest import AT
from rapport.api import pagination
from rapport.conftest import walk_pages
from rapport.records.services import record_share
from rapport.web.testing import text_of, ui_client

pytestmark = pytest.mark.django_db

PERSONAS = ("owner", "manager", "admin", "teammate", "outsider", "reader")
SETS = '"contact_id" IN (SELECT'  # the visibility sets' form of the contact check


def _pages_with_sets(queries) -> list[str]:
    """The statements that read rows (not the count) with the visibility sets."""
    return [q["sql"] for q in queries if SETS in q["sql"] and "COUNT(" not in q["sql"].upper()]


@pytest.fixture
def mixed(log, personas, contact, outsider_contact, lead):
    """Activities of several owners and links, interleaved in time: each persona sees a
    different part, at different places in the list's order."""
    kinds = ("call", "email", "meeting", "note")
    made = []
    for i in range(24):
        at = AT + datetime.timedelta(hours=i % 7, minutes=i)  # not in creation order
        if i % 4 == 0:
            made.append(
                log(
                    kinds[i % 4],
                    actor=personas.outsider,
                    contact_id=outsider_contact.pk,
                    occurred_at=at,
                )
            )
        elif i % 4 == 1:
            made.append(
                log(kinds[i % 4], actor=personas.manager, contact_id=contact.pk, occurred_at=at)
            )
        elif i % 4 == 2:
            made.append(log("call", actor=personas.owner, lead_id=lead.pk, occurred_at=at))
        else:
            made.append(log("call", actor=personas.owner, contact_id=contact.pk, occurred_at=at))
    record_share(record=contact, actor=personas.owner, user=personas.teammate)
    return made


@pytest.mark.parametrize("prefix_rows", [1, 3, 7, 2000])
def test_every_page_is_the_page_of_the_visibility_sets(
    mixed, personas, api_as, monkeypatch, prefix_rows
):
    monkeypatch.setattr(pagination, "PREFIX_ROWS", prefix_rows)
    for who in PERSONAS:
        user = getattr(personas, who)
        for sort, query in (
            ("-occurred_at", ""),
            ("occurred_at", ""),
            ("-created_at", "&kind=call"),
        ):
            expected = list(
                activity_list(user=user, kind=["call"] if query else None)
                .order_by(sort, f"{sort[0] if sort[0] == '-' else ''}id")
                .values_list("pk", flat=True)
            )
            walked = walk_pages(api_as(user), f"/api/activities?limit=2&sort={sort}{query}")
            assert walked == expected, (who, sort, query)


def test_the_prefix_answers_when_it_holds_the_page_and_the_sets_when_it_does_not(
    mixed, personas, api_as, monkeypatch
):
    monkeypatch.setattr(pagination, "PREFIX_ROWS", 8)
    # The owner sees 18 of the 24 (their own and the manager's on their contact): the first
    # 8 rows hold the 3 a page of 2 needs. No visibility set is built.
    with CaptureQueriesContext(connection) as queries:
        first = api_as(personas.owner).get("/api/activities?limit=2")
    assert len(first.data["items"]) == 2
    assert _pages_with_sets(queries.captured_queries) == []
    # The outsider sees 6 of them: not 3 in the first 8, so the sets answer.
    with CaptureQueriesContext(connection) as queries:
        theirs = api_as(personas.outsider).get("/api/activities?limit=2")
    assert [r["id"] for r in theirs.data["items"]] == list(
        activity_list(user=personas.outsider)
        .order_by("-occurred_at", "-id")
        .values_list("pk", flat=True)[:2]
    )
    assert len(_pages_with_sets(queries.captured_queries)) == 1


def test_the_web_list_pages_are_the_same(mixed, personas, monkeypatch):
    monkeypatch.setattr(pagination, "PREFIX_ROWS", 3)
    for who in ("owner", "teammate", "outsider"):
        user = getattr(personas, who)
        page = text_of(ui_client(user).get("/activities/all/"))
        expected = activity_list(user=user).order_by("-occurred_at", "-id")
        for activity in expected:
            assert f"/activities/{activity.pk}/" in page, who
        hidden = set(a.pk for a in mixed) - set(expected.values_list("pk", flat=True))
        assert hidden, who
        for pk in hidden:
            assert f"/activities/{pk}/" not in page, who
