"""The activity list's capped count may stop at the user's own rows: when they alone pass
the cap, the count is the cap, without counting the rows seen through linked records (whose
visibility sets cost ~0.4 s for a rep at a million contacts). Otherwise the count is the
same as before, exact below the cap."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rapport.web.testing import text_of, ui_client

pytestmark = pytest.mark.django_db


def _counts(queries) -> list[str]:
    return [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]


def _api_count(api_as, user, url):
    with CaptureQueriesContext(connection) as queries:
        response = api_as(user).get(url)
    assert response.status_code == 200, response.data
    return response.data["count"], _counts(queries.captured_queries)


def test_the_count_stops_at_the_own_rows_only_when_they_pass_the_cap(
    log, personas, contact, api_as, settings
):
    settings.RAPPORT_COUNT_CAP = 3
    owner = personas.owner
    for _ in range(3):  # the manager's calls on the owner's contact: the owner sees them
        log("call", actor=personas.manager, contact_id=contact.pk)
    log("task", actor=owner)
    # Own rows (1) below the cap: the whole visible set is counted, 4 rows → "3+".
    count, counts = _api_count(api_as, owner, "/api/activities")
    assert count == "3+"
    assert any("records_recordshare" in sql for sql in counts)
    settings.RAPPORT_COUNT_CAP = 5
    count, _ = _api_count(api_as, owner, "/api/activities")
    assert count == 4  # exact below the cap, the manager's calls included
    count, _ = _api_count(api_as, owner, "/api/activities?kind=call")
    assert count == 3  # the filter narrows the own part too: none of the calls is theirs

    settings.RAPPORT_COUNT_CAP = 3
    for _ in range(3):
        log("task", actor=owner)
    # Own rows (4) pass the cap: one count, of the owner's rows only.
    count, counts = _api_count(api_as, owner, "/api/activities")
    assert count == "3+"
    assert len(counts) == 1 and "records_recordshare" not in counts[0]
    count, counts = _api_count(api_as, owner, "/api/activities?kind=call")
    assert count == 3 and len(counts) == 2  # no own call: the visible calls are counted

    client = ui_client(owner)
    with CaptureQueriesContext(connection) as queries:
        page = text_of(client.get("/activities/all/"))
    assert ">3+<" in page
    counts = _counts(queries.captured_queries)
    assert len(counts) == 1 and "records_recordshare" not in counts[0]
    # The manager owns the 3 calls; the owner's personal tasks (no linked record) are the
    # owner's alone: the own part (3) does not pass the cap (10), the full count is exact.
    settings.RAPPORT_COUNT_CAP = 10
    count, counts = _api_count(api_as, personas.manager, "/api/activities")
    assert count == 3 and len(counts) == 2
