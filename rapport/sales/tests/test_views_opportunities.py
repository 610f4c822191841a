"""Opportunity pages: access, list filters, record page (stage stepper, products, stage
history), forms, stage moves with the lost-reason prompt and the version check."""

import datetime
from decimal import Decimal

import pytest

from rapport.records.services import record_share
from rapport.sales.models import LineItem, Opportunity, Pipeline, Stage, StageKind
from rapport.sales.services import line_item_add, opportunity_update
from rapport.timeline.models import EventKind, TimelineEvent
from rapport.web.testing import HTMX, count_queries, csv_rows, field_error, text_of, ui_client

pytestmark = pytest.mark.django_db


def _reload(opportunity) -> Opportunity:
    return Opportunity.objects.select_related("stage").get(pk=opportunity.pk)


# ----- access -------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(make_opportunity):
    opp = make_opportunity()
    for url in ("/opportunities/", f"/opportunities/{opp.pk}/", "/opportunities/board"):
        r = ui_client().get(url)
        assert r.status_code == 302, url
        assert r["Location"].startswith("/login/?next="), url


def test_outsider_gets_404_on_every_opportunity_url(
    personas, make_opportunity, stages, make_product
):
    opp = make_opportunity()
    item = line_item_add(opportunity=opp, actor=personas.owner, product=make_product())
    client = ui_client(personas.outsider)
    base = f"/opportunities/{opp.pk}/"
    for url in (
        base,
        base + "edit",
        base + "fields/name/?edit=1",
        base + "timeline",
        base + f"move?stage_id={stages['Closed Lost'].pk}",
        base + "line-items/add",
        base + f"line-items/{item.pk}/edit",
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        base + "fields/name/",
        base + "composer",
        base + "delete",
        base + "move",
        base + "line-items/add",
        base + f"line-items/{item.pk}/edit",
        base + f"line-items/{item.pk}/remove",
    ):
        r = client.post(url, {"value": "x", "version": 1, "stage_id": stages["Proposal"].pk})
        assert r.status_code == 404, url
    assert _reload(opp).stage.name == "Prospecting"
    assert LineItem.objects.count() == 1


def test_reader_sees_the_page_but_cannot_move_or_edit(personas, make_opportunity, stages):
    opp = make_opportunity()
    record_share(record=opp, actor=personas.owner, user=personas.reader, access="edit")
    client = ui_client(personas.reader)
    page = text_of(client.get(f"/opportunities/{opp.pk}/"))
    assert "Big deal" in page
    assert f'action="/opportunities/{opp.pk}/move"' not in page
    assert 'id="line-item-add"' not in page
    r = client.post(f"/opportunities/{opp.pk}/move", {"stage_id": stages["Proposal"].pk})
    assert r.status_code == 403
    assert client.get(f"/opportunities/{opp.pk}/edit").status_code == 403
    assert client.post(f"/opportunities/{opp.pk}/line-items/add", {}).status_code == 403
    assert _reload(opp).stage.name == "Prospecting"


# ----- list ---------------------------------------------------------------------------


def test_list_filters_by_stage_kind_pipeline_stage_account_close_date_and_amount(
    personas, make_opportunity, stages, account
):
    make_opportunity(name="Small early", amount=Decimal("100"))
    make_opportunity(
        name="Big later",
        amount=Decimal("90000"),
        stage=stages["Proposal"],
        account=account,
        expected_close_date=datetime.date(2031, 6, 1),
    )
    make_opportunity(name="Won one", stage=stages["Closed Won"])
    client = ui_client(personas.owner)

    def names(query):
        page = text_of(client.get("/opportunities/?" + query))
        return {n for n in ("Small early", "Big later", "Won one") if f">{n}</a>" in page}

    assert names("stage_kind=won") == {"Won one"}
    assert names("stage_kind=open") == {"Small early", "Big later"}
    assert names(f"stage_id={stages['Proposal'].pk}") == {"Big later"}
    assert names(f"pipeline_id={stages['Proposal'].pipeline_id}") == {
        "Small early",
        "Big later",
        "Won one",
    }
    assert names(f"account_id={account.pk}") == {"Big later"}
    assert names("close_from=2031-01-01&close_to=2031-12-31") == {"Big later"}
    assert names("amount_min=5000&amount_max=100000") == {"Big later"}
    assert names("amount_max=500") == {"Small early"}
    page = text_of(client.get("/opportunities/?stage_kind=won"))
    assert "Open/closed: Won" in page  # the chip shows the label
    assert 'aria-current="true">Won</a>' in page


def test_list_links_to_the_board_and_exports_csv(personas, make_opportunity):
    make_opportunity(name="Exported")
    make_opportunity(owner=personas.outsider, name="Not mine")
    client = ui_client(personas.owner)
    page = text_of(client.get("/opportunities/"))
    assert 'href="/opportunities/board"' in page
    rows = csv_rows(client.get("/opportunities/export.csv"))
    assert [r[1] for r in rows[1:]] == ["Exported"]
    assert rows[0][rows[0].index("Amount")] == "Amount"
    assert rows[1][rows[0].index("Amount")] == "1000.00"


def test_opportunity_list_has_no_n_plus_one(personas, make_opportunity, account):
    client = ui_client(personas.owner)
    for i in range(3):
        make_opportunity(name=f"O{i}", account=account, tags=["x"])
    url = "/opportunities/?cols=name,account,stage,pipeline,amount,weighted,close,owner,team,tags"
    client.get(url)
    few = count_queries(lambda: client.get(url))
    for i in range(3, 20):
        make_opportunity(name=f"O{i}", account=account, tags=["x"])
    many = count_queries(lambda: client.get(url))
    assert few == many, (few, many)


def test_bulk_assign_only_touches_editable_opportunities(personas, make_opportunity):
    mine = make_opportunity(name="Mine")
    theirs = make_opportunity(owner=personas.outsider, name="Theirs")
    r = ui_client(personas.owner).post(
        "/opportunities/bulk",
        {"action": "assign", "owner_id": personas.teammate.pk, "ids": [mine.pk, theirs.pk]},
        follow=True,
    )
    assert "1 opportunity reassigned. 1 skipped" in text_of(r)
    assert Opportunity.objects.get(pk=mine.pk).owner == personas.teammate
    assert Opportunity.objects.get(pk=theirs.pk).owner == personas.outsider


# ----- record page --------------------------------------------------------------------


def test_page_shows_stage_amount_weighted_close_date_and_the_stepper(
    personas, make_opportunity, stages
):
    opp = make_opportunity(
        amount=Decimal("20000"),
        stage=stages["Proposal"],
        expected_close_date=datetime.date(2031, 3, 15),
    )
    page = text_of(ui_client(personas.owner).get(f"/opportunities/{opp.pk}/"))
    assert '<span class="status status-info">Proposal</span>' in page
    assert "20,000.00 EUR" in page
    assert "Weighted (50 %)" in page and "10,000.00 EUR" in page
    assert "03/15/2031" in page
    assert 'aria-current="step">Proposal' in page
    assert page.count(f'action="/opportunities/{opp.pk}/move"') == len(stages) - 1
    assert 'name="lost_reason"' in page and "Why was it lost?" in page
    assert "Stage history" in page


def test_page_has_a_fixed_number_of_queries(personas, make_opportunity, stages, make_product):
    from rapport.sales.services import opportunity_move_stage

    opp = make_opportunity()
    client = ui_client(personas.owner)
    url = f"/opportunities/{opp.pk}/"
    order = ["Qualification", "Proposal", "Negotiation", "Prospecting"]

    def grow(n):
        for i in range(n):
            line_item_add(opportunity=opp, actor=personas.owner, product=make_product())
            opportunity_move_stage(
                opportunity=_reload(opp), stage=stages[order[i % 4]], actor=personas.owner
            )

    grow(2)
    client.get(url)
    few = count_queries(lambda: client.get(url))
    grow(14)
    many = count_queries(lambda: client.get(url))
    assert few == many, (few, many)


def test_stepper_moves_the_stage_and_the_timeline_shows_it(personas, make_opportunity, stages):
    opp = make_opportunity()
    client = ui_client(personas.owner)
    r = client.post(
        f"/opportunities/{opp.pk}/move",
        {
            "stage_id": stages["Negotiation"].pk,
            "version": opp.version,
            "next": f"/opportunities/{opp.pk}/",
        },
    )
    assert r.status_code == 302
    assert r["Location"] == f"/opportunities/{opp.pk}/"
    opp = _reload(opp)
    assert opp.stage.name == "Negotiation"
    assert opp.probability == 75
    page = text_of(client.get(r["Location"]))
    assert "Big deal moved to Negotiation." in page
    assert "Stage moved from Prospecting to Negotiation" in page
    assert TimelineEvent.objects.filter(opportunity=opp, kind=EventKind.STAGE_CHANGED).exists()


def test_move_to_lost_without_reason_leads_to_the_prompt(personas, make_opportunity, stages):
    opp = make_opportunity()
    lost = stages["Closed Lost"]
    client = ui_client(personas.owner)
    r = client.post(
        f"/opportunities/{opp.pk}/move",
        {"stage_id": lost.pk, "version": opp.version, "next": "/opportunities/board"},
    )
    assert r.status_code == 302
    prompt = r["Location"]
    assert prompt.startswith(f"/opportunities/{opp.pk}/move?")
    page = client.get(prompt)
    assert page.status_code == 200
    assert "Why was Big deal lost?" in text_of(page)
    assert 'name="prompted"' in text_of(page)
    r = client.post(
        f"/opportunities/{opp.pk}/move",
        {"stage_id": lost.pk, "version": opp.version, "prompted": "1", "next": "/x"},
    )
    assert r.status_code == 422
    assert field_error(r, "Give the reason it was lost")
    assert _reload(opp).stage.kind == StageKind.OPEN
    r = client.post(
        f"/opportunities/{opp.pk}/move",
        {
            "stage_id": lost.pk,
            "version": opp.version,
            "prompted": "1",
            "lost_reason": "Went with a competitor",
            "next": "/opportunities/board",
        },
    )
    assert r.status_code == 302 and r["Location"] == "/opportunities/board"
    opp = _reload(opp)
    assert opp.stage == lost
    assert opp.lost_reason == "Went with a competitor"


def test_htmx_move_to_lost_without_reason_redirects_the_page_to_the_prompt(
    personas, make_opportunity, stages
):
    opp = make_opportunity()
    r = ui_client(personas.owner).post(
        f"/opportunities/{opp.pk}/move",
        {"stage_id": stages["Closed Lost"].pk, "version": opp.version},
        headers=HTMX,
    )
    assert r.status_code == 200
    assert r["HX-Redirect"].startswith(f"/opportunities/{opp.pk}/move?")


def test_stale_move_is_refused_with_a_message(personas, make_opportunity, stages):
    opp = make_opportunity()
    opened_at = opp.version
    opportunity_update(opportunity=opp, actor=personas.manager, fields={"name": "Renamed"})
    client = ui_client(personas.owner)
    r = client.post(
        f"/opportunities/{opp.pk}/move",
        {"stage_id": stages["Proposal"].pk, "version": opened_at},
        follow=True,
    )
    assert "was changed by someone else" in text_of(r)
    assert _reload(opp).stage.name == "Prospecting"


def test_move_to_a_stage_of_another_pipeline_is_refused(personas, make_opportunity):
    other = Pipeline.objects.create(name="Other")
    stage = Stage.objects.create(pipeline=other, name="Elsewhere")
    opp = make_opportunity()
    r = ui_client(personas.owner).post(
        f"/opportunities/{opp.pk}/move", {"stage_id": stage.pk}, follow=True
    )
    assert "Choose a stage of the opportunity" in text_of(r)
    assert _reload(opp).stage.name == "Prospecting"


def test_move_only_follows_same_site_next(personas, make_opportunity, stages):
    opp = make_opportunity()
    r = ui_client(personas.owner).post(
        f"/opportunities/{opp.pk}/move",
        {"stage_id": stages["Proposal"].pk, "next": "https://evil.example/"},
    )
    assert r["Location"] == f"/opportunities/{opp.pk}/"


def test_inline_edit_of_the_amount_is_refused_once_there_are_products(
    personas, make_opportunity, make_product
):
    opp = make_opportunity()
    line_item_add(opportunity=opp, actor=personas.owner, product=make_product())
    opp = _reload(opp)
    r = ui_client(personas.owner).post(
        f"/opportunities/{opp.pk}/fields/amount/",
        {"value": "5", "version": opp.version},
        headers=HTMX,
    )
    assert r.status_code == 422
    assert "sum of the line items" in text_of(r)


def test_inline_edit_of_the_close_date(personas, make_opportunity):
    opp = make_opportunity()
    r = ui_client(personas.owner).post(
        f"/opportunities/{opp.pk}/fields/expected_close_date/",
        {"value": "2030-12-24", "version": opp.version},
        headers=HTMX,
    )
    assert r.status_code == 200
    assert "12/24/2030" in text_of(r)  # the locale's short format (en-US by default)
    assert str(_reload(opp).expected_close_date) == "2030-12-24"


def test_page_links_back_to_the_lead_it_came_from(personas):
    from rapport.leads.services import lead_convert, lead_create

    lead = lead_create(actor=personas.owner, fields={"last_name": "Doe", "company": "Origin"})
    opp = lead_convert(lead=lead, actor=personas.owner, create_opportunity=True)["opportunity"]
    page = text_of(ui_client(personas.owner).get(f"/opportunities/{opp.pk}/"))
    assert f'href="/leads/{lead.pk}/"' in page


# ----- forms --------------------------------------------------------------------------


def test_create_form_errors_are_next_to_the_fields(personas, stages):
    r = ui_client(personas.owner).post(
        "/opportunities/new",
        {
            "name": "",
            "currency": "EURX",
            "stage": stages["Prospecting"].pk,
            "owner": personas.owner.pk,
        },
    )
    assert r.status_code == 422
    assert field_error(r, "This field is required")
    assert field_error(r, "“EURX” is not a currency")
    assert not Opportunity.objects.exists()


def test_create_in_a_lost_stage_needs_a_reason_next_to_it(personas, stages, account):
    client = ui_client(personas.owner)
    data = {
        "name": "Gone",
        "currency": "EUR",
        "amount": "10",
        "stage": stages["Closed Lost"].pk,
        "owner": personas.owner.pk,
        "account": account.pk,
    }
    r = client.post("/opportunities/new", data)
    assert r.status_code == 422
    assert field_error(r, "A lost opportunity needs a lost reason")
    r = client.post("/opportunities/new", {**data, "lost_reason": "Budget cut"})
    opp = Opportunity.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/opportunities/{opp.pk}/"
    assert opp.account == account
    assert opp.lost_reason == "Budget cut"


def test_new_opportunity_starts_in_the_first_open_stage_of_the_default_pipeline(personas, stages):
    page = text_of(ui_client(personas.owner).get("/opportunities/new"))
    assert f'<option value="{stages["Prospecting"].pk}" selected>' in page


def test_edit_moving_the_stage_keeps_the_stage_probability(personas, make_opportunity, stages):
    opp = make_opportunity()
    r = ui_client(personas.owner).post(
        f"/opportunities/{opp.pk}/edit",
        {
            "name": "Big deal",
            "currency": "EUR",
            "amount": "1000",
            "probability": "10",
            "stage": stages["Negotiation"].pk,
            "owner": personas.owner.pk,
            "version": opp.version,
        },
    )
    assert r.status_code == 302
    opp = _reload(opp)
    assert opp.stage.name == "Negotiation"
    assert opp.probability == 75  # the untouched 10 % did not override the stage's


def test_edit_with_stale_version_says_someone_else_changed_it(personas, make_opportunity, stages):
    opp = make_opportunity()
    opened_at = opp.version
    opportunity_update(opportunity=opp, actor=personas.manager, fields={"source": "web"})
    r = ui_client(personas.owner).post(
        f"/opportunities/{opp.pk}/edit",
        {
            "name": "Renamed",
            "currency": "EUR",
            "stage": stages["Prospecting"].pk,
            "owner": personas.owner.pk,
            "version": opened_at,
        },
    )
    assert r.status_code == 422
    assert "Someone else changed this record" in text_of(r)
    assert _reload(opp).name == "Big deal"


# ----- products -----------------------------------------------------------------------


def test_add_edit_and_remove_a_product_updates_the_amount(personas, make_opportunity, make_product):
    opp = make_opportunity()
    product = make_product(name="Seat licence", unit_price=Decimal("250"))
    client = ui_client(personas.owner)
    r = client.post(
        f"/opportunities/{opp.pk}/line-items/add",
        {"product": product.pk, "quantity": "4", "discount_percent": "10"},
    )
    assert r.status_code == 302 and r["Location"] == f"/opportunities/{opp.pk}/#line-items"
    item = LineItem.objects.get()
    assert _reload(opp).amount == Decimal("900.00")
    page = text_of(client.get(f"/opportunities/{opp.pk}/"))
    assert "Seat licence" in page and "900.00 EUR" in page

    form = client.get(f"/opportunities/{opp.pk}/line-items/{item.pk}/edit", headers=HTMX)
    assert text_of(form).lstrip().startswith(f'<tr id="line-item-{item.pk}"')
    assert f'id="line-item-{item.pk}-form"' in text_of(form)
    assert 'name="quantity"' in text_of(form)
    r = client.post(
        f"/opportunities/{opp.pk}/line-items/{item.pk}/edit",
        {"quantity": "2", "unit_price": "250", "discount_percent": "0", "version": item.version},
    )
    assert r.status_code == 302
    assert _reload(opp).amount == Decimal("500.00")

    item.refresh_from_db()
    r = client.post(
        f"/opportunities/{opp.pk}/line-items/{item.pk}/remove", {"version": item.version}
    )
    assert r.status_code == 302
    assert not LineItem.objects.exists()
    assert _reload(opp).amount == Decimal("0.00")


def test_product_errors_come_back_next_to_the_field(personas, make_opportunity, make_product):
    opp = make_opportunity()
    product = make_product()
    client = ui_client(personas.owner)
    r = client.post(
        f"/opportunities/{opp.pk}/line-items/add",
        {"product": product.pk, "quantity": "0", "discount_percent": "0"},
    )
    assert r.status_code == 422
    assert field_error(r, "greater than or equal to 0.01")
    r = client.post(
        f"/opportunities/{opp.pk}/line-items/add",
        {"product": "", "quantity": "1", "discount_percent": "0"},
        headers=HTMX,
    )
    assert r.status_code == 422
    assert r["HX-Retarget"] == "#line-item-add"
    assert r["HX-Reselect"] == "#line-item-add"
    assert "Choose a product" in text_of(r)
    assert not LineItem.objects.exists()


def test_stale_product_edit_is_refused(personas, make_opportunity, make_product):
    from rapport.sales.services import line_item_update

    opp = make_opportunity()
    item = line_item_add(opportunity=opp, actor=personas.owner, product=make_product())
    opened_at = item.version
    line_item_update(line_item=item, actor=personas.manager, fields={"quantity": Decimal("3")})
    r = ui_client(personas.owner).post(
        f"/opportunities/{opp.pk}/line-items/{item.pk}/edit",
        {"quantity": "9", "unit_price": "1", "discount_percent": "0", "version": opened_at},
        headers=HTMX,
    )
    assert r.status_code == 422
    assert r["HX-Retarget"] == f"#line-item-{item.pk}"
    assert "Someone else changed this record" in text_of(r)
    item.refresh_from_db()
    assert item.quantity == 3


def test_delete_and_restore(personas, make_opportunity):
    opp = make_opportunity(name="Bin me")
    client = ui_client(personas.owner)
    r = client.post(f"/opportunities/{opp.pk}/delete", follow=True)
    assert f'action="/opportunities/{opp.pk}/restore"' in text_of(r)
    assert not Opportunity.objects.filter(pk=opp.pk).exists()
    client.post(f"/opportunities/{opp.pk}/restore")
    assert Opportunity.objects.filter(pk=opp.pk).exists()
