"""The pipeline board: columns with count, sum and weighted sum; only visible cards;
filters; the "Move to…" form (same service as the API, version checked); a fixed number of
queries whatever the number of cards; a first page per column and "Load more"; a small page
with many opportunities."""

import datetime
import re
from decimal import Decimal

import pytest
from django.db.models import F

from rapport.records.services import record_share
from rapport.sales.board_views import BOARD_PAGE_SIZE
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
    assert few <= 18, few  # 16 + the bell's unread count + the lost-reason picklist


def _card_names(html: str) -> list[str]:
    return re.findall(r'class="board-card-title" href="[^"]*">([^<]*)</a>', html)


def _more_url(column: str) -> str | None:
    found = re.search(r'hx-get="([^"]*/cards\?[^"]*)"', column)
    return found.group(1).replace("&amp;", "&") if found else None


def test_columns_show_a_first_page_and_load_more_pages_the_rest(personas, make_opportunity, stages):
    # Equal close dates and amounts too: the pages are ordered by id among equals.
    n = 2 * BOARD_PAGE_SIZE + 5
    for i in range(n):
        make_opportunity(
            name=f"Deal {i:02d}",
            amount=Decimal(100 if i % 3 else i),
            expected_close_date=None if i % 4 == 0 else datetime.date(2030, 1, 1 + i % 2),
        )
    client = ui_client(personas.owner)
    page = text_of(client.get("/opportunities/board"))
    column = _column(page, stages["Prospecting"])
    seen = _card_names(column)
    assert len(seen) == BOARD_PAGE_SIZE
    assert _count(column) == str(n)
    pipeline_id = stages["Prospecting"].pipeline_id
    assert (
        f'href="/opportunities/?pipeline_id={pipeline_id}&amp;stage_id={stages["Prospecting"].pk}"'
        in column
    )
    url = _more_url(column)
    pages = 0
    while url:
        r = client.get(url, headers=HTMX)
        assert r.status_code == 200
        body = text_of(r)
        assert 'hx-swap-oob="true"' in body and 'id="board"' not in body
        seen += _card_names(body)
        url = _more_url(body)
        pages += 1
    assert pages == 2
    assert len(seen) == n and len(set(seen)) == n
    expected = list(
        Opportunity.objects.order_by(
            F("expected_close_date").asc(nulls_last=True), F("amount").desc(), "id"
        ).values_list("name", flat=True)
    )
    assert seen == expected


def test_load_more_keeps_the_filters_and_visibility(personas, make_opportunity, stages):
    for i in range(BOARD_PAGE_SIZE + 3):
        make_opportunity(name=f"Mine {i:02d}", amount=Decimal(1000 - i))
    for i in range(3):
        make_opportunity(owner=personas.outsider, name=f"Hidden {i}", amount=Decimal(1))
    client = ui_client(personas.owner)
    page = text_of(client.get(f"/opportunities/board?owner_id={personas.owner.pk}"))
    url = _more_url(_column(page, stages["Prospecting"]))
    assert f"owner_id={personas.owner.pk}" in url
    body = text_of(client.get(url, headers=HTMX))
    assert _card_names(body) == [
        f"Mine {i:02d}" for i in range(BOARD_PAGE_SIZE, BOARD_PAGE_SIZE + 3)
    ]
    assert _more_url(body) is None
    # Without the owner filter the outsider's private cards still never show.
    body = text_of(client.get(url.replace(f"owner_id={personas.owner.pk}", ""), headers=HTMX))
    assert "Hidden" not in body


@pytest.mark.parametrize("after", ["x", "2030-13-01~1~1", "~NaN~1", "~1~x", "a~b", "~Infinity~2"])
def test_malformed_load_more_cursor_is_a_400(personas, stages, after):
    r = ui_client(personas.owner).get(
        f"/opportunities/board/stages/{stages['Prospecting'].pk}/cards", {"after": after}
    )
    assert r.status_code == 400


def test_load_more_of_a_stage_of_another_pipeline_is_a_404(personas, stages):
    other = Pipeline.objects.create(name="Other")
    r = ui_client(personas.owner).get(
        f"/opportunities/board/stages/{stages['Prospecting'].pk}/cards", {"pipeline": other.pk}
    )
    assert r.status_code == 404


def test_board_with_many_opportunities_is_small_and_queries_stay_fixed(
    personas, make_opportunity, stages, account
):
    """Issue 9 item 6: 200 opportunities made a 351 KB page of 5,400 elements."""
    names = list(stages)
    client = ui_client(personas.manager)
    url = "/opportunities/board"
    for i in range(12):
        make_opportunity(
            name=f"Quantum Silver Group – expansion {i}",
            account=account,
            stage=stages[names[i % len(names)]],
            expected_close_date=datetime.date(2030, 1, 1),
            lost_reason="Price" if names[i % len(names)] == "Closed Lost" else "",
        )
    client.get(url)
    few = count_queries(lambda: client.get(url))
    for i in range(12, 40 * len(names)):
        make_opportunity(
            name=f"Quantum Silver Group – expansion {i}",
            account=account,
            stage=stages[names[i % len(names)]],
            expected_close_date=datetime.date(2030, 1, 1),
            lost_reason="Price" if names[i % len(names)] == "Closed Lost" else "",
        )
    r = client.get(url)
    many = count_queries(lambda: client.get(url))
    assert many == few, (few, many)
    html = text_of(r)
    assert len(html.encode()) <= 100_000, len(html.encode())
    assert html.count('<li class="board-card') == BOARD_PAGE_SIZE * len(names)
    elements = len(re.findall(r"<[a-zA-Z]", html))
    assert elements <= 2_000, elements


def test_move_form_moves_the_card_and_updates_the_totals(personas, make_opportunity, stages):
    opp = make_opportunity(name="Mover", amount=Decimal("2000"))
    client = ui_client(personas.owner)
    board = text_of(client.get("/opportunities/board"))
    assert f'href="/opportunities/{opp.pk}/move?version={opp.version}' in board
    # The card's "Move to…" fetches its form (htmx) or opens it as a page (no JavaScript).
    link = f"/opportunities/{opp.pk}/move?version={opp.version}&next=/opportunities/board"
    fragment = text_of(client.get(link, headers=HTMX))
    assert f'hx-post="/opportunities/{opp.pk}/move"' in fragment
    assert f'<select id="move-{opp.pk}" name="stage_id" autofocus>' in fragment
    assert f'name="version" value="{opp.version}"' in fragment
    assert "<html" not in fragment
    whole = text_of(client.get(link))
    assert "<html" in whole and "hx-post" not in whole.split('id="main"')[1]
    assert f'action="/opportunities/{opp.pk}/move"' in whole
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
    assert f"/opportunities/{opp.pk}/move" not in page
    assert "is-movable" not in page and 'id="board-move-form"' not in page


def test_read_shared_card_is_not_movable_but_own_cards_are(personas, make_opportunity):
    theirs = make_opportunity(owner=personas.outsider, name="Shared to read")
    record_share(record=theirs, actor=personas.outsider, user=personas.owner, access="read")
    mine = make_opportunity(name="My own")
    page = text_of(ui_client(personas.owner).get("/opportunities/board"))
    assert ">Shared to read</a>" in page
    assert f"/opportunities/{theirs.pk}/move" not in page
    assert f'href="/opportunities/{mine.pk}/move?version=' in page
    r = ui_client(personas.owner).get(f"/opportunities/{theirs.pk}/move", headers=HTMX)
    assert r.status_code == 403


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
