"""The shared list machinery, through the account list: filters, chips, columns, sorting,
keyset paging and its count."""

import datetime

import pytest
from django.utils import timezone

from rapport.accounts.models import Account
from rapport.accounts.services import account_create
from rapport.records.custom_fields import custom_field_define
from rapport.web.testing import HTMX, text_of, ui_client

pytestmark = pytest.mark.django_db


def _names(page: str) -> list[str]:
    import re

    return re.findall(r'class="cell-text cell-primary"><a href="/accounts/\d+/">([^<]+)</a>', page)


def test_filters_show_as_chips_with_remove_links(personas):
    account_create(actor=personas.owner, fields={"name": "Hot"}, tags=["vip", "eu"])
    account_create(actor=personas.owner, fields={"name": "Cold"}, tags=["eu"])
    page = text_of(ui_client(personas.owner).get("/accounts/?tag=vip&tag=eu&q=hot"))
    assert _names(page) == ["Hot"]
    assert "Tag: vip" in page and "Tag: eu" in page
    assert 'href="?tag=eu&amp;q=hot"' in page  # removing "vip" keeps the rest
    assert '<input type="hidden" name="tag" value="vip">' in page


def test_owner_team_and_date_filters(personas):
    account_create(actor=personas.owner, fields={"name": "Mine"})
    account_create(actor=personas.teammate, fields={"name": "Theirs"})
    client = ui_client(personas.manager)
    assert _names(text_of(client.get(f"/accounts/?owner_id={personas.owner.pk}"))) == ["Mine"]
    page = text_of(client.get(f"/accounts/?team_id={personas.team_a.pk}&sort=name"))
    assert _names(page) == ["Mine", "Theirs"]
    assert "Team: Team A" in page
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    assert _names(text_of(client.get(f"/accounts/?created_from={tomorrow}"))) == []


def test_custom_field_filter_and_its_errors(personas):
    custom_field_define(object_type="account", key="tier", label="Tier", field_type="number")
    account_create(actor=personas.owner, fields={"name": "Gold"}, custom={"tier": 3})
    account_create(actor=personas.owner, fields={"name": "Tin"}, custom={"tier": 1})
    client = ui_client(personas.owner)
    assert _names(text_of(client.get("/accounts/?cf=tier__gte=2"))) == ["Gold"]
    r = client.get("/accounts/?cf=nope=1")
    assert r.status_code == 200
    assert "unknown custom filter" in text_of(r)
    r = client.get("/accounts/?cf=bad")
    assert "must look like key=value" in text_of(r)


def test_sorting_by_a_column_header(personas):
    for name in ("Beta", "Alpha", "Gamma"):
        account_create(actor=personas.owner, fields={"name": name})
    client = ui_client(personas.owner)
    page = text_of(client.get("/accounts/?sort=name"))
    assert _names(page) == ["Alpha", "Beta", "Gamma"]
    assert 'aria-sort="ascending"' in page and 'href="?sort=-name"' in page
    assert _names(text_of(client.get("/accounts/?sort=-name"))) == ["Gamma", "Beta", "Alpha"]
    # An unknown sort falls back to the default instead of failing.
    assert client.get("/accounts/?sort=owner__password").status_code == 200


def test_column_chooser_keeps_the_name_column(personas):
    account_create(actor=personas.owner, fields={"name": "Rich", "annual_revenue": "1234567.5"})
    page = text_of(ui_client(personas.owner).get("/accounts/?cols=revenue&cols=bogus"))
    assert ">Name</a></th>" in page and ">Annual revenue</th>" in page
    assert ">Industry</th>" not in page
    assert "1,234,567.50 EUR" in page
    assert 'class="cell-money"' in page


def test_keyset_paging_with_load_more_and_a_capped_count(personas, settings):
    settings.RAPPORT_COUNT_CAP = 60
    for i in range(61):
        Account.objects.create(name=f"N{i:03}", owner=personas.owner, team=personas.team_a)
    client = ui_client(personas.owner)
    page = text_of(client.get("/accounts/?sort=name"))
    assert _names(page)[:2] == ["N000", "N001"] and len(_names(page)) == 50
    assert ">60+<" in page
    start = page.index('id="list-more"')
    link = "/accounts/" + page[start:].split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    more = text_of(client.get(link + "&fragment=rows", headers=HTMX))
    assert "<html" not in more
    assert more.count("<tr>") == 11
    assert "list-more" not in more
    full = text_of(client.get(link))  # the same link without JavaScript: a whole page
    assert "Back to the first page" in full and _names(full)[0] == "N050"
    assert client.get("/accounts/?cursor=not-a-cursor").status_code == 200


def test_count_is_grouped_by_thousands(personas):
    from rapport.web.templatetags.rapport_ui import thousands

    assert thousands(1204) == "1,204"
    assert thousands("10000+") == "10,000+"
    assert thousands(7) == "7"
