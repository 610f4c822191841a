"""The knowledge-base API: CRUD, versions, votes, search, suggestions, usage, categories."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rapport.knowledge.models import Article, ArticleStatus

pytestmark = pytest.mark.django_db

BASE = "/api/knowledge"


def test_write_read_edit_restore_and_delete_an_article(api_as, personas, make_category):
    api = api_as(personas.owner)
    billing = make_category(name="Billing")
    r = api.post(
        f"{BASE}/articles",
        {
            "title": "Change the invoice address",
            "body": "Go to **Billing**.",
            "category_id": billing.pk,
            "status": "published",
        },
    )
    assert r.status_code == 201, r.data
    article = r.data
    assert article["version"] == 1 and article["category_id"] == billing.pk
    assert article["body_html"] == "<p>Go to <strong>Billing</strong>.</p>\n"
    r = api.patch(
        f"{BASE}/articles/{article['id']}",
        {"body": "Go to **Settings › Billing**.", "change_note": "new menu", "base_version": 1},
    )
    assert r.status_code == 200 and r.data["version"] == 2
    stale = api.patch(f"{BASE}/articles/{article['id']}", {"body": "x", "base_version": 1})
    assert stale.status_code == 412
    versions = api.get(f"{BASE}/articles/{article['id']}/versions").data
    assert [(v["number"], v["change_note"]) for v in versions] == [(2, "new menu"), (1, "Created")]
    assert (
        api.get(f"{BASE}/articles/{article['id']}/versions/1").data["body"] == "Go to **Billing**."
    )
    assert api.get(f"{BASE}/articles/{article['id']}/versions/7").status_code == 404
    r = api.post(f"{BASE}/articles/{article['id']}/versions/1/restore")
    assert r.status_code == 200 and r.data["version"] == 3
    assert r.data["body"] == "Go to **Billing**."
    assert api.delete(f"{BASE}/articles/{article['id']}").status_code == 204
    assert not Article.objects.exists()


def test_bad_input_is_a_4xx_naming_the_field(api_as, personas):
    api = api_as(personas.owner)
    r = api.post(f"{BASE}/articles", {"title": "  "})
    assert r.status_code == 422 and r.data["field"] == "title"
    r = api.post(f"{BASE}/articles", {"title": "Ok", "category_id": 999})
    assert r.status_code == 422 and r.data["field"] == "category_id"
    r = api.post(f"{BASE}/articles", {"title": "Ok", "status": "live"})
    assert r.status_code == 422 and "status" in str(r.data)
    assert not Article.objects.exists()


def test_readers_read_published_only_and_cannot_write(api_as, personas, make_article):
    live = make_article(title="Live")
    draft = make_article(title="Draft", status=ArticleStatus.DRAFT)
    reader = api_as(personas.reader)
    assert [a["title"] for a in reader.get(f"{BASE}/articles").data["items"]] == ["Live"]
    assert reader.get(f"{BASE}/articles/{draft.pk}").status_code == 404
    assert reader.get(f"{BASE}/articles/{live.pk}").status_code == 200
    assert reader.post(f"{BASE}/articles", {"title": "Mine"}).status_code == 403
    assert reader.patch(f"{BASE}/articles/{live.pk}", {"body": "x"}).status_code == 403
    assert api_as(None).get(f"{BASE}/articles").status_code == 401


def test_search_and_paging(api_as, personas, make_article):
    make_article(title="VPN setup", body="Install the client.")
    make_article(title="Printer", body="Tray two.")
    api = api_as(personas.teammate)
    r = api.get(f"{BASE}/articles", q="client")
    assert r.data["count"] == 1 and r.data["items"][0]["title"] == "VPN setup"
    r = api.get(f"{BASE}/articles", limit=1, offset=1)
    assert r.data["count"] == 2 and len(r.data["items"]) == 1


def test_list_queries_do_not_grow_with_the_articles(api_as, personas, make_article):
    api = api_as(personas.owner)
    make_article(title="One")
    api.get(f"{BASE}/articles")
    with CaptureQueriesContext(connection) as few:
        api.get(f"{BASE}/articles")
    for i in range(6):
        make_article(title=f"More {i}")
    with CaptureQueriesContext(connection) as many:
        r = api.get(f"{BASE}/articles")
    assert r.data["count"] == 7
    assert len(many) == len(few)


def test_votes_are_one_per_user_and_changeable(api_as, personas, make_article):
    article = make_article()
    r = api_as(personas.owner).post(f"{BASE}/articles/{article.pk}/vote", {"helpful": True})
    assert r.status_code == 200 and r.data["helpful_count"] == 1
    r = api_as(personas.owner).post(
        f"{BASE}/articles/{article.pk}/vote", {"helpful": False, "comment": "Out of date"}
    )
    assert (r.data["helpful_count"], r.data["not_helpful_count"]) == (0, 1)
    r = api_as(personas.owner).post(f"{BASE}/articles/{article.pk}/vote", {"helpful": "maybe"})
    assert r.status_code == 422


def test_suggestions_and_usage_need_a_visible_case(api_as, personas, make_article, make_case):
    reset = make_article(title="Reset a password", body="Use the link.")
    case = make_case(subject="Password reset please", status="resolved")
    admin = api_as(personas.admin)
    r = admin.get(f"{BASE}/articles/suggested", case_id=case.pk)
    assert r.status_code == 200 and [a["id"] for a in r.data] == [reset.pk]
    r = admin.post(f"{BASE}/articles/{reset.pk}/case-uses", {"case_id": case.pk})
    assert r.status_code == 201
    assert admin.get(f"{BASE}/articles/{reset.pk}").data["resolved_case_uses"] == 1
    # Cases follow their customer, queue and owner: the outsider sees none of them.
    outsider = api_as(personas.outsider)
    assert outsider.get(f"{BASE}/articles/suggested", case_id=case.pk).status_code == 404
    r = outsider.post(f"{BASE}/articles/{reset.pk}/case-uses", {"case_id": case.pk})
    assert r.status_code == 404
    r = admin.post(f"{BASE}/articles/{reset.pk}/case-uses", {"case_id": 0})
    assert r.status_code == 422
    assert admin.delete(f"{BASE}/articles/{reset.pk}").status_code == 409


def test_categories_crud_for_managers(api_as, personas, make_article):
    manager = api_as(personas.manager)
    r = manager.post(f"{BASE}/categories", {"name": "Billing"})
    assert r.status_code == 201
    billing = r.data["id"]
    r = manager.post(f"{BASE}/categories", {"name": "Invoices", "parent_id": billing})
    assert r.status_code == 201 and r.data["parent_id"] == billing
    assert manager.post(f"{BASE}/categories", {"name": "billing"}).data["field"] == "name"
    assert api_as(personas.owner).post(f"{BASE}/categories", {"name": "X"}).status_code == 403
    r = manager.patch(f"{BASE}/categories/{billing}", {"name": "Billing & payments"})
    assert r.status_code == 200 and r.data["name"] == "Billing & payments"
    listed = api_as(personas.reader).get(f"{BASE}/categories").data
    assert [c["name"] for c in listed] == ["Billing & payments", "Invoices"]
    assert manager.delete(f"{BASE}/categories/{billing}").status_code == 409
    assert manager.delete(f"{BASE}/categories/{r.data['id'] + 1}").status_code == 204


def test_a_null_in_a_category_patch_clears_a_text_or_names_the_field(api_as, personas):
    """Was a 500 (NOT NULL constraint failed: description, position), found by the
    null-per-PATCH-field fuzz."""
    manager = api_as(personas.manager)
    top = manager.post(f"{BASE}/categories", {"name": "Top"}).data["id"]
    body = {"name": "Billing", "description": "Invoices", "parent_id": top, "position": 4}
    url = f"{BASE}/categories/{manager.post(f'{BASE}/categories', body).data['id']}"
    cleared = manager.patch(url, {"description": None, "parent_id": None})
    assert cleared.status_code == 200, cleared.data
    assert cleared.data["description"] == "" and cleared.data["parent_id"] is None
    for field in ("name", "position"):
        refused = manager.patch(url, {field: None})
        assert refused.status_code == 422 and refused.data["field"] == field, (field, refused.data)
    kept = manager.get(f"{BASE}/categories").data
    kept = next(c for c in kept if c["name"] == "Billing")
    assert kept["position"] == 4
