"""The pipeline board: columns with count, sum and weighted sum; only visible cards;
filters; the "Move to…" form (same service as the API, version checked); a fixed number of
queries whatever the number of cards; a cap of cards per column."""

import datetime
import re
from decimal import Decimal

import pytest

from rapport.records.services import record_share
from rapport.sales.board_views import BOARD_CARD_LIMIT
from rapport.sales.models import ExchangeRate, Opportunity, Pipeline, Stage, StageKind
from rapport.sales.services import opportunity_update
from rapport.web.testing import HTMX, count_queries, text_of, ui_client

pytestmark = pytest.mark.django_db


def _column(page: str, stage) -> str:
    """The HTML of one stage's column."""
    start = page.index(f'id="column-{stage.pk}"')
    end = page.find("</section>", start)
    return page[start:end]


def _count(column: str) -> str:
    return re.search(r'class="count" data-count>([^<]*)<', column).group(1)


def _total(column: str) -> str:
    return re.search(r"data-total>\s*([^<]*)<", column).group(1).strip()


def _weighted(column: str) -> str:
    return re.search(r"data-weighted>\s*([^<]*)<", column).group(1).strip()


def test_columns_show_count_sum_and_weighted_sum(personas, make_opportunity, stages):
    make_opportunity(name="A", amount=Decimal("1000"), stage=stages["Proposal"])
    make_opportunity(name="B", amount=Decimal("3000"), stage=stages["Proposal"])
    make_opportunity(name="C", amount=Decimal("500"))
    page = text_of(ui_client(personas.owner).get("/opportunities/board"))
    proposal = _column(page, stages["Proposal"])
    assert _count(proposal) == "2"
    assert _total(proposal) == "4,000.00 EUR"
    assert _weighted(proposal) == "2,000.00 EUR"  # 50 %
    prospecting = _column(page, stages["Prospecting"])
    assert _count(prospecting) == "1"
    assert _weighted(prospecting) == "50.00 EUR"  # 10 %
    assert _count(_column(page, stages["Closed Won"])) == "0"
    assert "Nothing in Closed Won." in page
    for stage in stages.values():
        assert f'id="column-{stage.pk}"' in page
    assert ">A</a>" in proposal and ">B</a>" in proposal


def test_cards_show_name_account_amount_owner_and_close_date(personas, make_opportunity, account):
    make_opportunity(
        name="Card deal",
        account=account,
        amount=Decimal("1234.5"),
        expected_close_date=datetime.date(2000, 1, 31),
    )
    page = text_of(ui_client(personas.owner).get("/opportunities/board"))
    assert ">Card deal</a>" in page
    assert '<p class="board-card-account">Acme</p>' in page
    assert "1,234.50 EUR" in page
    assert "Olga Owner" in page
    assert "01/31/2000 · overdue" in page


def test_only_visible_opportunities_are_on_the_board(personas, make_opportunity, stages):
    make_opportunity(name="Ours")
    make_opportunity(owner=personas.outsider, name="Theirs", amount=Decimal("777"))
    page = text_of(ui_client(personas.owner).get("/opportunities/board"))
    assert ">Ours</a>" in page
    assert "Theirs" not in page
    assert _total(_column(page, stages["Prospecting"])) == "1,000.00 EUR"
    outsider = text_of(ui_client(personas.outsider).get("/opportunities/board"))
    assert ">Theirs</a>" in outsider and "Ours" not in outsider


def test_filters_by_owner_team_and_pipeline(personas, make_opportunity):
    make_opportunity(name="Olgas")
    make_opportunity(owner=personas.teammate, name="Teammates")
    other = Pipeline.objects.create(name="Renewals")
    first = Stage.objects.create(pipeline=other, name="Due", position=1, probability=60)
    Stage.objects.create(pipeline=other, name="Renewed", position=2, kind=StageKind.WON)
    Stage.objects.create(pipeline=other, name="Churned", position=3, kind=StageKind.LOST)
    make_opportunity(name="Renewal", pipeline=other, stage=first)
    client = ui_client(personas.manager)
    page = text_of(client.get(f"/opportunities/board?owner_id={personas.teammate.pk}"))
    assert ">Teammates</a>" in page and "Olgas" not in page
    page = text_of(client.get(f"/opportunities/board?team_id={personas.team_b.pk}"))
    assert "Olgas" not in page and "Teammates" not in page
    page = text_of(client.get(f"/opportunities/board?team_id={personas.team_a.pk}"))
    assert ">Olgas</a>" in page and ">Teammates</a>" in page
    page = text_of(client.get(f"/opportunities/board?pipeline={other.pk}"))
    assert ">Renewal</a>" in page and "Olgas" not in page
    assert f'id="column-{first.pk}"' in page
    assert _weighted(_column(page, first)) == "600.00 EUR"
    page = text_of(client.get("/opportunities/board?pipeline=99999"))
    assert "No such pipeline" in page


def test_board_queries_do_not_grow_with_cards(personas, make_opportunity, stages, account):
    client = ui_client(personas.manager)
    kinds = ["Prospecting", "Proposal", "Closed Won"]

    def grow(n, owner):
        for i in range(n):
            make_opportunity(owner=owner, account=account, stage=stages[kinds[i % 3]])

    grow(3, personas.owner)
    url = "/opportunities/board"
    client.get(url)
    few = count_queries(lambda: client.get(url))
    grow(17, personas.teammate)
    many = count_queries(lambda: client.get(url))
    assert few == many, (few, many)
    assert few <= 16, few


def test_columns_are_capped_with_a_link_to_the_rest(personas, make_opportunity, stages):
    for i in range(BOARD_CARD_LIMIT + 2):
        make_opportunity(name=f"Deal {i:02d}", amount=Decimal(i + 1))
    page = text_of(ui_client(personas.owner).get("/opportunities/board"))
    column = _column(page, stages["Prospecting"])
    assert column.count('<li class="board-card') == BOARD_CARD_LIMIT
    assert _count(column) == str(BOARD_CARD_LIMIT + 2)
    assert "2 more in the list" in column
    pipeline_id = stages["Prospecting"].pipeline_id
    assert (
        f'href="/opportunities/?pipeline_id={pipeline_id}&amp;stage_id={stages["Prospecting"].pk}"'
        in column
    )


def test_move_form_moves_the_card_and_updates_the_totals(personas, make_opportunity, stages):
    opp = make_opportunity(name="Mover", amount=Decimal("2000"))
    client = ui_client(personas.owner)
    board = text_of(client.get("/opportunities/board"))
    assert f'action="/opportunities/{opp.pk}/move"' in board
    assert f'<select id="move-{opp.pk}" name="stage_id">' in board
    r = client.post(
        f"/opportunities/{opp.pk}/move",
        {
            "stage_id": stages["Closed Won"].pk,
            "version": opp.version,
            "next": "/opportunities/board",
        },
    )
    assert r.status_code == 302 and r["Location"] == "/opportunities/board"
    page = text_of(client.get("/opportunities/board"))
    won = _column(page, stages["Closed Won"])
    assert ">Mover</a>" in won
    assert _count(won) == "1" and _total(won) == "2,000.00 EUR"
    assert _count(_column(page, stages["Prospecting"])) == "0"
    assert "Mover moved to Closed Won." in page
    assert Opportunity.objects.get(pk=opp.pk).stage.kind == StageKind.WON


def test_htmx_move_answers_with_the_board_as_it_is_now(personas, make_opportunity, stages):
    opp = make_opportunity(name="Dragged")
    r = ui_client(personas.owner).post(
        f"/opportunities/{opp.pk}/move",
        {
            "stage_id": stages["Negotiation"].pk,
            "version": opp.version,
            "next": "/opportunities/board?pipeline=" + str(stages["Negotiation"].pipeline_id),
        },
        headers=HTMX,
        follow=True,
    )
    body = text_of(r)
    assert r.status_code == 200
    assert ">Dragged</a>" in _column(body, stages["Negotiation"])
    assert 'id="board"' in body and 'id="toasts"' in body


def test_stale_move_puts_the_card_back_with_a_message(personas, make_opportunity, stages):
    opp = make_opportunity(name="Contested")
    opened_at = opp.version
    opportunity_update(opportunity=opp, actor=personas.manager, fields={"source": "web"})
    r = ui_client(personas.owner).post(
        f"/opportunities/{opp.pk}/move",
        {"stage_id": stages["Proposal"].pk, "version": opened_at, "next": "/opportunities/board"},
        follow=True,
    )
    page = text_of(r)
    assert "was changed by someone else" in page
    assert ">Contested</a>" in _column(page, stages["Prospecting"])
    assert Opportunity.objects.get(pk=opp.pk).stage.name == "Prospecting"


def test_lost_stage_options_are_marked_for_the_reason_prompt(personas, make_opportunity, stages):
    make_opportunity()
    page = text_of(ui_client(personas.owner).get("/opportunities/board"))
    assert f'value="{stages["Closed Lost"].pk}" data-kind="lost"' in page
    assert 'id="lost-dialog"' in page


def test_reader_sees_cards_without_move_controls(personas, make_opportunity):
    opp = make_opportunity(name="Read only")
    record_share(record=opp, actor=personas.owner, user=personas.reader, access="edit")
    page = text_of(ui_client(personas.reader).get("/opportunities/board"))
    assert ">Read only</a>" in page
    assert f'action="/opportunities/{opp.pk}/move"' not in page
    assert "is-movable" not in page


def test_read_shared_card_is_not_movable_but_own_cards_are(personas, make_opportunity):
    theirs = make_opportunity(owner=personas.outsider, name="Shared to read")
    record_share(record=theirs, actor=personas.outsider, user=personas.owner, access="read")
    mine = make_opportunity(name="My own")
    page = text_of(ui_client(personas.owner).get("/opportunities/board"))
    assert ">Shared to read</a>" in page
    assert f'action="/opportunities/{theirs.pk}/move"' not in page
    assert f'action="/opportunities/{mine.pk}/move"' in page


def test_mixed_currencies_are_converted_when_rates_are_known(personas, make_opportunity, stages):
    make_opportunity(amount=Decimal("100"), currency="USD")
    make_opportunity(amount=Decimal("100"), currency="EUR")
    client = ui_client(personas.owner)
    column = _column(text_of(client.get("/opportunities/board")), stages["Prospecting"])
    assert "100.00 EUR" in column and "100.00 USD" in column  # no rate: one sum each
    ExchangeRate.objects.create(
        currency="USD", rate=Decimal("0.5"), valid_from=datetime.date(2000, 1, 1)
    )
    column = _column(text_of(client.get("/opportunities/board")), stages["Prospecting"])
    assert "150.00 EUR" in column
    assert "≈" in column


def test_board_without_pipelines_says_what_to_do(personas):
    Pipeline.objects.all().delete()
    page = text_of(ui_client(personas.owner).get("/opportunities/board"))
    assert "There is no pipeline yet" in page
