"""The shell: home, navigation, global search, toasts, error pages, saved views."""

import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.activities.services import activity_log
from rapport.web.csv_export import csv_safe
from rapport.web.models import SavedView
from rapport.web.testing import HTMX, text_of, ui_client

pytestmark = pytest.mark.django_db


def test_shell_has_sidebar_search_new_menu_and_user_menu(personas):
    page = text_of(ui_client(personas.owner).get("/accounts/"))
    for link in (
        "/accounts/",
        "/contacts/",
        "/leads/",
        "/opportunities/",
        "/activities/",
        "/products/",
        "/orders/",
        "/imports/",
    ):
        assert f'href="{link}"' in page, link
    assert 'href="/settings/"' not in page  # a rep may not see the settings: not offered
    assert '<a class="nav-link" href="/accounts/" aria-current="page">' in page
    assert 'id="global-search"' in page and 'action="/search"' in page
    assert "+ New" in page and 'href="/accounts/new"' in page
    assert 'action="/logout/"' in page and 'href="/me/tokens/"' in page
    assert 'href="/me/password/"' in page
    assert "vendor/htmx.min.js" in page and "style=" not in page


def test_home_lists_my_open_tasks_and_accounts(personas):
    account = account_create(actor=personas.owner, fields={"name": "Home Co"})
    activity_log(
        actor=personas.owner,
        kind="task",
        fields={"subject": "Call back Home Co"},
        links={"account_id": account.pk},
    )
    page = text_of(ui_client(personas.owner).get("/"))
    assert "Call back Home Co" in page
    assert f'href="/accounts/{account.pk}/"' in page
    other = text_of(ui_client(personas.teammate).get("/"))
    assert "Call back Home Co" not in other


def test_search_groups_results_and_shows_only_visible_records(personas):
    account_create(actor=personas.owner, fields={"name": "Zephyr Works"})
    contact_create(actor=personas.owner, fields={"last_name": "Zephyrson"})
    account_create(actor=personas.outsider, fields={"name": "Zephyr Secret"})
    page = text_of(ui_client(personas.owner).get("/search", {"q": "zephyr"}))
    assert "Zephyr Works" in page and "Zephyrson" in page
    assert "Zephyr Secret" not in page
    assert "Accounts" in page and "Contacts" in page
    outsider = text_of(ui_client(personas.outsider).get("/search", {"q": "zephyr"}))
    assert "Zephyr Works" not in outsider and "Zephyr Secret" in outsider
    empty = text_of(ui_client(personas.owner).get("/search", {"q": "nothing-like-this"}))
    assert "Nothing matches" in empty


def test_htmx_fragments_carry_toasts_out_of_band(personas):
    account = account_create(actor=personas.owner, fields={"name": "Toast Co"})
    r = ui_client(personas.owner).post(
        f"/accounts/{account.pk}/composer", {"kind": "note", "body": "hello"}, headers=HTMX
    )
    body = text_of(r)
    assert '<div id="toasts" hx-swap-oob="beforeend">' in body
    assert "Note saved." in body


def test_full_page_shows_queued_toasts_once(personas):
    client = ui_client(personas.owner)
    client.post("/accounts/new", {"name": "Once", "currency": "EUR", "owner": personas.owner.pk})
    first = text_of(client.get("/accounts/"))
    assert "Account Once created." in first
    assert "Account Once created." not in text_of(client.get("/accounts/"))


def test_saved_views_are_personal(personas):
    client = ui_client(personas.owner)
    r = client.post(
        "/views/save",
        {
            "object_type": "account",
            "name": "VIPs",
            "query": "tag=vip&cursor=abc&view=3",
            "columns": "name,owner,tags",
            "next": "/accounts/?tag=vip",
        },
    )
    view = SavedView.objects.get()
    assert (view.query, view.columns) == ("tag=vip", ["name", "owner", "tags"])
    assert r["Location"] == f"/accounts/?tag=vip&cols=name,owner,tags&view={view.pk}"
    page = text_of(client.get(r["Location"]))
    assert ">VIPs</a>" in page and 'aria-current="page">VIPs' in page
    assert "VIPs" not in text_of(ui_client(personas.teammate).get("/accounts/"))
    assert ui_client(personas.teammate).post(f"/views/{view.pk}/delete").status_code == 404
    client.post(f"/views/{view.pk}/delete", {"next": "/accounts/"})
    assert not SavedView.objects.exists()


def test_saved_view_needs_a_name(personas):
    r = ui_client(personas.owner).post(
        "/views/save", {"object_type": "account", "name": "", "next": "/accounts/"}, follow=True
    )
    assert "Give the view a name" in text_of(r)
    assert not SavedView.objects.exists()


def test_csv_safe_prefixes_formula_starts():
    # "+1" and "-1" are only numbers, not formulas (issue 9 item 17).
    assert [csv_safe(v) for v in ("=1+1", "+1", "-1", "@SUM", "\tx", "\rx", "ok", None, 5)] == [
        "'=1+1",
        "+1",
        "-1",
        "'@SUM",
        "'\tx",
        "'\rx",
        "ok",
        "",
        "5",
    ]
