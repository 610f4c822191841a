"""The home dashboard: my tasks (completed in place), my open pipeline by stage, won revenue
by month, recent activity on my records; the numbers of the people one answers for only,
in a fixed number of queries."""

import datetime
import json
import re
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from rapport.accounts.services import account_create, contact_create
from rapport.activities.models import Activity
from rapport.activities.services import activity_log
from rapport.records.services import record_share, record_transfer_owner
from rapport.records.visibility import org_default
from rapport.sales.models import ExchangeRate, Pipeline
from rapport.sales.services import (
    opportunity_create,
    opportunity_delete,
    opportunity_move_stage,
    opportunity_update,
)
from rapport.timeline.models import EventKind, TimelineEvent
from rapport.web import dashboard
from rapport.web.testing import HTMX, count_queries, text_of, ui_client

pytestmark = pytest.mark.django_db

NOON = datetime.datetime(2025, 6, 16, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def stages(db) -> dict:
    return {s.name: s for s in Pipeline.objects.get(name="Sales").stages.all()}


def _task(owner, subject, due_at=None, **links):
    fields = {"subject": subject}
    if due_at is not None:
        fields["due_at"] = due_at
    activity, _ = activity_log(actor=owner, kind="task", fields=fields, links=links or None)
    return activity


def _opportunity(owner, name, amount, stage, **fields):
    return opportunity_create(
        actor=owner, fields={"name": name, "amount": Decimal(amount), "stage": stage, **fields}
    )


def _won(owner, name, amount, stages, closed_at):
    opp = _opportunity(owner, name, amount, stages["Proposal"])
    with time_machine.travel(closed_at, tick=False):
        opportunity_move_stage(opportunity=opp, stage=stages["Closed Won"], actor=owner)
    return opp


def _chart_data(response) -> dict:
    match = re.search(
        r'<script id="dashboard-data" type="application/json">(.*?)</script>',
        text_of(response),
        re.S,
    )
    assert match, "the charts' data is embedded with json_script"
    return json.loads(match.group(1))


# ----- tasks --------------------------------------------------------------------------


def test_home_needs_sign_in():
    response = ui_client().get("/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_tasks_overdue_and_due_today_come_first_then_the_next_ones(personas):
    owner = personas.owner
    account = account_create(actor=owner, fields={"name": "Tasky Ltd"})
    with time_machine.travel(NOON, tick=False):
        _task(owner, "Overdue call", NOON - datetime.timedelta(days=2), account_id=account.pk)
        _task(owner, "Later today", NOON + datetime.timedelta(hours=3))
        _task(owner, "Tomorrow thing", NOON + datetime.timedelta(days=1))
        _task(owner, "Whenever")
        done = _task(owner, "Already done", NOON - datetime.timedelta(days=1))
        Activity.objects.filter(pk=done.pk).update(done=True)
        _task(personas.teammate, "Teammate's task", NOON - datetime.timedelta(days=1))
        tasks = dashboard.dashboard_tasks(user=owner)
        page = text_of(ui_client(owner).get("/"))
    assert [t.subject for t in tasks.overdue] == ["Overdue call"]
    assert [t.subject for t in tasks.today] == ["Later today"]
    assert [t.subject for t in tasks.upcoming] == ["Tomorrow thing", "Whenever"]
    assert tasks.overdue[0].subject_url == f"/accounts/{account.pk}/"
    assert page.index("Overdue call") < page.index("Later today") < page.index("Tomorrow thing")
    assert "Already done" not in page and "Teammate&#x27;s task" not in page
    assert "Teammate's task" not in page
    assert '<span class="status status-danger">Overdue</span>' in page


def test_my_task_on_a_record_given_away_does_not_name_the_record(personas):
    account = account_create(actor=personas.owner, fields={"name": "Gone Away Ltd"})
    _task(personas.owner, "Follow up", timezone.now(), account_id=account.pk)
    record_transfer_owner(record=account, new_owner=personas.outsider, actor=personas.owner)
    tasks = dashboard.dashboard_tasks(user=personas.owner)
    assert [t.subject for t in tasks.overdue] == ["Follow up"]
    assert tasks.overdue[0].subject_record is None
    assert "Gone Away Ltd" not in text_of(ui_client(personas.owner).get("/"))


def test_completing_a_task_in_place_swaps_its_row_and_logs_the_completion(personas):
    owner = personas.owner
    account = account_create(actor=owner, fields={"name": "Done Co"})
    task = _task(
        owner, "Send quote", timezone.now() - datetime.timedelta(hours=1), account_id=account.pk
    )
    response = ui_client(owner).post(
        f"/home/tasks/{task.pk}/complete", {"version": task.version}, headers=HTMX
    )
    assert response.status_code == 200
    body = text_of(response)
    assert body.startswith(f'<li class="dash-task dash-task-done" id="task-{task.pk}">')
    assert f'hx-post="/home/tasks/{task.pk}/reopen"' in body  # the undo
    assert "“Send quote” completed." in body  # the toast, out of band
    task.refresh_from_db()
    assert task.done
    assert TimelineEvent.objects.filter(
        kind=EventKind.ACTIVITY_DONE, account=account, activity=task
    ).exists()
    reopened = ui_client(owner).post(
        f"/home/tasks/{task.pk}/reopen", {"version": task.version}, headers=HTMX
    )
    assert f'hx-post="/home/tasks/{task.pk}/complete"' in text_of(reopened)
    task.refresh_from_db()
    assert not task.done


def test_completing_a_task_without_javascript_redirects_home(personas):
    task = _task(personas.owner, "Plain form")
    response = ui_client(personas.owner).post(f"/home/tasks/{task.pk}/complete")
    assert response.status_code == 302 and response["Location"] == "/"
    task.refresh_from_db()
    assert task.done


def test_completing_with_a_stale_version_changes_nothing_and_says_so(personas):
    task = _task(personas.owner, "Contested")
    Activity.objects.filter(pk=task.pk).update(version=5)
    response = ui_client(personas.owner).post(
        f"/home/tasks/{task.pk}/complete", {"version": "1"}, headers=HTMX
    )
    assert "Someone else changed this task" in text_of(response)
    task.refresh_from_db()
    assert not task.done


def test_someone_elses_personal_task_is_a_404_and_a_reader_may_not_complete(personas):
    task = _task(personas.owner, "Mine only")
    assert ui_client(personas.outsider).post(f"/home/tasks/{task.pk}/complete").status_code == 404
    assert ui_client(personas.teammate).post(f"/home/tasks/{task.pk}/complete").status_code == 404
    account = account_create(actor=personas.manager, fields={"name": "Read Co"})
    shared = _task(personas.manager, "Team task", account_id=account.pk)
    record_share(record=account, actor=personas.manager, user=personas.reader, access="read")
    assert ui_client(personas.reader).post(f"/home/tasks/{shared.pk}/complete").status_code == 403
    shared.refresh_from_db()
    assert not shared.done


def test_completing_needs_post(personas):
    task = _task(personas.owner, "Get me")
    assert ui_client(personas.owner).get(f"/home/tasks/{task.pk}/complete").status_code == 405


# ----- pipeline by stage ----------------------------------------------------------------


def test_pipeline_by_stage_counts_sums_and_weights_open_deals_in_sql(personas, stages):
    owner = personas.owner
    _opportunity(owner, "A", "1000", stages["Prospecting"])  # 10 %
    _opportunity(owner, "B", "3000", stages["Proposal"])  # 50 %
    _opportunity(owner, "C", "1000", stages["Proposal"], probability=20)
    _won(owner, "Won one", "9999", stages, timezone.now())
    gone = _opportunity(owner, "Deleted", "5000", stages["Proposal"])
    opportunity_delete(opportunity=gone, actor=owner)
    _opportunity(personas.teammate, "Teammate's", "7000", stages["Proposal"])
    pipeline = dashboard.pipeline_by_stage(user=owner)
    rows = {r.label: r for r in pipeline.rows}
    assert list(rows) == ["Prospecting", "Qualification", "Proposal", "Negotiation"]
    assert (rows["Prospecting"].count, rows["Prospecting"].amount) == (1, Decimal("1000.00"))
    assert rows["Prospecting"].weighted == Decimal("100.00")
    assert (rows["Proposal"].count, rows["Proposal"].amount) == (2, Decimal("4000.00"))
    assert rows["Proposal"].weighted == Decimal("1700.00")  # 1500 + 200
    assert rows["Qualification"].count == 0
    assert (pipeline.count, pipeline.amount, pipeline.weighted) == (
        3,
        Decimal("5000.00"),
        Decimal("1800.00"),
    )


def test_managers_see_their_teams_pipeline_reps_their_own_outsiders_none(personas, stages):
    _opportunity(personas.owner, "Owner's", "1000", stages["Proposal"])
    _opportunity(personas.teammate, "Teammate's", "2000", stages["Proposal"])
    _opportunity(personas.outsider, "Outsider's", "4000", stages["Proposal"])
    amounts = {
        name: dashboard.pipeline_by_stage(user=getattr(personas, name)).amount
        for name in ("owner", "manager", "outsider", "admin", "reader")
    }
    assert amounts == {
        "owner": Decimal("1000.00"),
        "manager": Decimal("3000.00"),
        "outsider": Decimal("4000.00"),
        "admin": Decimal("7000.00"),
        "reader": Decimal("0.00"),
    }


def test_a_deal_shared_with_me_is_not_in_my_pipeline(personas, stages):
    opp = _opportunity(personas.outsider, "Shared", "4000", stages["Proposal"])
    record_share(record=opp, actor=personas.outsider, user=personas.owner, access="edit")
    assert dashboard.pipeline_by_stage(user=personas.owner).amount == Decimal("0.00")


def test_foreign_currencies_are_converted_and_missing_rates_named(personas, stages):
    ExchangeRate.objects.create(currency="USD", rate=Decimal("0.5"), valid_from="2000-01-01")
    _opportunity(personas.owner, "Euro", "1000", stages["Proposal"])
    _opportunity(personas.owner, "Dollar", "1000", stages["Proposal"], currency="USD")
    _opportunity(personas.owner, "Yen", "1000", stages["Proposal"], currency="JPY")
    pipeline = dashboard.pipeline_by_stage(user=personas.owner)
    assert pipeline.amount == Decimal("1500.00")
    assert pipeline.count == 3
    assert pipeline.missing_rates == ["JPY"]
    assert "no exchange rate to EUR: JPY" in text_of(ui_client(personas.owner).get("/"))


# ----- won revenue by month ---------------------------------------------------------------


def test_won_revenue_by_month_covers_the_last_twelve_months(personas, stages):
    owner = personas.owner
    with time_machine.travel(NOON, tick=False):
        _won(owner, "June deal", "1000", stages, NOON - datetime.timedelta(days=1))
        _won(owner, "Another June", "500", stages, NOON - datetime.timedelta(days=2))
        _won(
            owner,
            "July last year",
            "300",
            stages,
            datetime.datetime(2024, 7, 3, tzinfo=datetime.UTC),
        )
        _won(owner, "Too old", "800", stages, datetime.datetime(2024, 6, 30, tzinfo=datetime.UTC))
        _won(personas.outsider, "Not mine", "700", stages, NOON)
        lost = _opportunity(owner, "Lost", "900", stages["Proposal"])
        opportunity_move_stage(
            opportunity=lost, stage=stages["Closed Lost"], actor=owner, lost_reason="Price"
        )
        won = dashboard.won_by_month(user=owner)
        data = _chart_data(ui_client(owner).get("/"))
    assert [r.label for r in won.rows][0] == "Jul 2024"
    assert [r.label for r in won.rows][-1] == "Jun 2025"
    assert len(won.rows) == 12
    assert (won.rows[-1].count, won.rows[-1].amount) == (2, Decimal("1500.00"))
    assert (won.rows[0].count, won.rows[0].amount) == (1, Decimal("300.00"))
    assert won.amount == Decimal("1800.00")
    assert data["won"]["labels"][-1] == "Jun 2025"
    assert data["won"]["amount"][-1] == 1500.0
    assert data["won"]["count"][-1] == 2


def test_won_by_month_goes_by_the_close_date_not_the_day_of_the_move(personas, stages):
    """Issue 9 item 7: a deal won in June with its close date corrected to March counts in
    March; the day the stage moved does not matter."""
    owner = personas.owner
    with time_machine.travel(NOON, tick=False):
        corrected = _won(owner, "Signed in March", "400", stages, NOON)
        opportunity_update(
            opportunity=corrected,
            actor=owner,
            fields={"expected_close_date": datetime.date(2025, 3, 20)},
        )
        # Won in the same change that gave its close date (April).
        april = _opportunity(owner, "April deal", "250", stages["Proposal"])
        opportunity_update(
            opportunity=april,
            actor=owner,
            fields={
                "stage": stages["Closed Won"],
                "expected_close_date": datetime.date(2025, 4, 2),
            },
        )
        _won(owner, "Won today", "100", stages, NOON)
        won = {r.label: (r.count, r.amount) for r in dashboard.won_by_month(user=owner).rows}
    assert won["Mar 2025"] == (1, Decimal("400.00"))
    assert won["Apr 2025"] == (1, Decimal("250.00"))
    assert won["Jun 2025"] == (1, Decimal("100.00"))


# ----- recent activity ----------------------------------------------------------------


def test_recent_activity_lists_my_records_events_newest_first(personas, stages):
    owner = personas.owner
    account = account_create(actor=owner, fields={"name": "Feed Co"})
    contact_create(actor=owner, fields={"last_name": "Feedson", "account": account})
    account_create(actor=personas.outsider, fields={"name": "Elsewhere Inc"})
    events = dashboard.recent_events(user=owner)
    assert [e.summary for e in events][:2] == ["Created Feedson", "Created Feed Co"]
    assert events[0].subject.last_name == "Feedson"
    assert all("Elsewhere" not in e.summary for e in events)
    page = text_of(ui_client(owner).get("/"))
    assert "Created Feedson" in page and "Elsewhere Inc" not in page
    assert not dashboard.recent_events(user=personas.outsider)[0].summary.startswith("Created Feed")


def test_recent_activity_shows_at_most_twenty_events(personas):
    for n in range(23):
        account_create(actor=personas.owner, fields={"name": f"Account {n}"})
    events = dashboard.recent_events(user=personas.owner)
    assert len(events) == 20
    assert events[0].summary == "Created Account 22"


def test_an_event_never_names_a_record_i_may_not_see(personas, stages):
    """A call on my account about someone else's opportunity: the account is shown."""
    account = account_create(actor=personas.owner, fields={"name": "Mine Co"})
    secret = _opportunity(personas.outsider, "Secret deal", "10", stages["Proposal"])
    TimelineEvent.objects.create(
        kind=EventKind.UPDATED,
        occurred_at=timezone.now(),
        summary="Something happened",
        account=account,
        opportunity=secret,
    )
    event = dashboard.recent_events(user=personas.owner)[0]
    assert event.subject == account
    page = text_of(ui_client(personas.owner).get("/"))
    assert "Secret deal" not in page


# ----- the page ---------------------------------------------------------------------------


def test_charts_are_drawn_from_embedded_json_with_the_vendored_library_and_tables(personas, stages):
    _opportunity(personas.owner, "Charted", "2500", stages["Negotiation"])
    _won(personas.owner, "Won it", "700", stages, timezone.now())
    response = ui_client(personas.owner).get("/")
    page = text_of(response)
    data = _chart_data(response)
    assert data["currency"] == "EUR"
    assert data["pipeline"]["labels"] == ["Prospecting", "Qualification", "Proposal", "Negotiation"]
    assert data["pipeline"]["amount"] == [0.0, 0.0, 0.0, 2500.0]
    assert data["pipeline"]["weighted"] == [0.0, 0.0, 0.0, 1875.0]
    assert "/static/vendor/chart.umd.min.js" in page and "/static/web/dashboard.js" in page
    assert "cdn" not in page.lower() and 'src="http' not in page
    # Readable without JavaScript: a table under each chart, the chart boxes hidden until drawn.
    assert 'id="table-pipeline"' in page and 'id="table-won"' in page
    assert page.count('data-chart="') == 2 and page.count("hidden>") >= 2
    assert "2,500.00" in page and "1,875.00" in page
    assert "style=" not in page


def test_home_page_is_plain_about_empty_data(personas):
    page = text_of(ui_client(personas.outsider).get("/"))
    assert "Nothing due today and nothing overdue" in page
    assert "Nothing has happened on your records yet" in page
    assert "No open deals." in page and "No deals won in the last 12 months" in page
    assert 'data-chart="' not in page  # no empty charts


def _populate(personas, stages, n: int):
    owner = personas.owner
    for i in range(n):
        account = account_create(actor=owner, fields={"name": f"Q{n}-{i}"})
        contact = contact_create(actor=owner, fields={"last_name": f"C{n}-{i}", "account": account})
        _task(
            owner, f"T{n}-{i}", timezone.now() - datetime.timedelta(hours=1), contact_id=contact.pk
        )
        _task(owner, f"U{n}-{i}", None, account_id=account.pk)
        stage = stages["Proposal"] if i % 2 else stages["Prospecting"]
        currency = "USD" if i % 3 == 0 else "EUR"
        opp = _opportunity(owner, f"O{n}-{i}", "100", stage, account=account, currency=currency)
        if i % 4 == 0:
            opportunity_move_stage(opportunity=opp, stage=stages["Closed Won"], actor=owner)


@pytest.mark.parametrize("who", ["owner", "manager", "admin"])
def test_home_runs_the_same_number_of_queries_for_3_or_20_records(personas, stages, who):
    ExchangeRate.objects.create(currency="USD", rate=Decimal("0.9"), valid_from="2000-01-01")
    user = getattr(personas, who)
    _populate(personas, stages, 3)
    client = ui_client(user)
    client.get("/")  # warm the session and caches
    few = count_queries(lambda: client.get("/"))
    _populate(personas, stages, 20)
    many = count_queries(lambda: client.get("/"))
    assert few == many
    assert many <= 15  # 14 + the quota of this quarter (forecasts.selectors.quota_card)


def test_query_counts_of_each_block_are_fixed(personas, stages, django_assert_num_queries):
    _populate(personas, stages, 5)
    user = type(personas.owner).objects.get(pk=personas.owner.pk)
    # What a page reads once per request: the managed teams and the org-wide defaults.
    dashboard.scope_label(user)
    org_default("account", user)
    # Due; later dates; undated only when the later ones leave room (two index ranges
    # instead of `due_at >= … OR due_at IS NULL`).
    with django_assert_num_queries(3):
        dashboard.dashboard_tasks(user=user)
    convert = dashboard.Converter()
    with django_assert_num_queries(3):  # sums, stages, exchange rates (USD deals)
        dashboard.pipeline_by_stage(user=user, convert=convert)
    with django_assert_num_queries(1):  # sums; the rates are known by now
        dashboard.won_by_month(user=user, convert=convert)
    # The candidates, then the events shown with their records; the records are all the
    # owner's, so which of them the owner may see needs no statement (one more, a UNION
    # ALL, when some are not).
    with django_assert_num_queries(2):
        dashboard.recent_events(user=user)
    with django_assert_num_queries(2):
        dashboard.recent_events(user=personas.admin)
