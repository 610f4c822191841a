"""The knowledge-base pages: what each persona sees and may do, votes and preview over
htmx, the editor's versions, category admin, and the case page's suggestion panel."""

import pytest
from django.test import Client

from rapport.knowledge.models import Article, ArticleCaseUse, ArticleStatus, KbCategory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_home_lists_categories_helpful_and_recent_and_searches(
    personas, make_article, make_category
):
    billing = make_category(name="Billing")
    make_article(title="Refund policy", body="Five days.", category=billing)
    make_article(title="Secret draft", status=ArticleStatus.DRAFT)
    reader = client_for(personas.reader)
    page = reader.get("/knowledge/").content.decode()
    assert "Billing" in page and "Refund policy" in page
    assert "Secret draft" not in page  # drafts only for writers
    assert "New article" not in page  # a read-only user is not offered writing
    found = reader.get("/knowledge/", {"q": "five"}).content.decode()
    assert "Refund policy" in found
    assert "No article matches" in reader.get("/knowledge/", {"q": "zebra"}).content.decode()
    assert "Refund policy" in reader.get("/knowledge/", {"category": billing.pk}).content.decode()
    assert "New article" in client_for(personas.owner).get("/knowledge/").content.decode()


def test_article_page_renders_safely_counts_views_and_shows_history(personas, make_article):
    article = make_article(
        title="XSS", body="Hi <script>alert(1)</script> [x](javascript:alert(1))"
    )
    page = client_for(personas.teammate).get(f"/knowledge/articles/{article.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "<script>alert(1)" not in html
    assert 'href="javascript' not in html  # the link stays text
    assert "&lt;script&gt;" in html
    assert "Version 1" in html
    article.refresh_from_db()
    assert article.view_count == 1


def test_archived_and_draft_articles_are_404_for_readers(personas, make_article):
    archived = make_article(status=ArticleStatus.ARCHIVED)
    assert client_for(personas.reader).get(f"/knowledge/articles/{archived.pk}/").status_code == 404
    assert client_for(personas.owner).get(f"/knowledge/articles/{archived.pk}/").status_code == 200


def test_writing_and_editing_through_the_editor_makes_versions(personas):
    owner = client_for(personas.owner)
    assert owner.get("/knowledge/articles/new/").status_code == 200
    r = owner.post(
        "/knowledge/articles/new/",
        {
            "title": "Printer jams",
            "visibility": "internal",
            "status": "published",
            "body": "Tray 2",
        },
    )
    article = Article.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/knowledge/articles/{article.pk}/"
    r = owner.post(
        f"/knowledge/articles/{article.pk}/edit/",
        {
            "title": "Printer jams",
            "visibility": "internal",
            "status": "published",
            "body": "Open tray 2",
            "change_note": "clearer",
            "base_version": 1,
        },
    )
    assert r.status_code == 302
    article.refresh_from_db()
    assert article.current_version.number == 2 and article.body == "Open tray 2"
    stale = owner.post(
        f"/knowledge/articles/{article.pk}/edit/",
        {
            "title": "Printer jams",
            "visibility": "internal",
            "status": "published",
            "body": "x",
            "base_version": 1,
        },
    )
    assert stale.status_code == 422 and "Someone saved this article" in stale.content.decode()
    empty = owner.post(
        f"/knowledge/articles/{article.pk}/edit/",
        {"title": "", "visibility": "internal", "status": "published", "body": "x"},
    )
    assert empty.status_code == 422
    old = owner.get(f"/knowledge/articles/{article.pk}/versions/1/").content.decode()
    assert "Tray 2" in old and "Restore this version" in old
    r = owner.post(f"/knowledge/articles/{article.pk}/versions/1/restore/")
    article.refresh_from_db()
    assert r.status_code == 302 and article.body == "Tray 2" and article.current_version.number == 3


def test_read_only_users_get_no_editor(personas, make_article):
    reader = client_for(personas.reader)
    article = make_article()
    assert reader.get("/knowledge/articles/new/").status_code == 403
    assert reader.get(f"/knowledge/articles/{article.pk}/edit/").status_code == 403
    assert "Edit</a>" not in reader.get(f"/knowledge/articles/{article.pk}/").content.decode()


def test_preview_is_sanitised_markdown(personas):
    r = client_for(personas.owner).post(
        "/knowledge/preview/", {"body": "**bold** <img src=x onerror=alert(1)>"}, **HTMX
    )
    html = r.content.decode()
    assert "<strong>bold</strong>" in html and "<img" not in html


def test_voting_over_htmx_updates_the_counts_in_place(personas, make_article):
    article = make_article()
    owner = client_for(personas.owner)
    r = owner.post(f"/knowledge/articles/{article.pk}/vote/", {"helpful": "yes"}, **HTMX)
    assert r.status_code == 200 and "1 found it helpful" in r.content.decode()
    r = owner.post(f"/knowledge/articles/{article.pk}/vote/", {"helpful": "no"}, **HTMX)
    assert "0 found it helpful · 1 did not" in r.content.decode()
    assert (
        owner.post(f"/knowledge/articles/{article.pk}/vote/", {"helpful": "x"}).status_code == 400
    )


def test_category_admin_is_for_managers(personas, make_article):
    assert client_for(personas.owner).get("/knowledge/categories/").status_code == 403
    manager = client_for(personas.manager)
    assert manager.get("/knowledge/categories/").status_code == 200
    r = manager.post("/knowledge/categories/", {"new-name": "Billing", "new-position": ""})
    assert r.status_code == 302
    billing = KbCategory.objects.get()
    r = manager.post("/knowledge/categories/", {"new-name": "billing"})
    assert r.status_code == 422 and "exists already" in r.content.decode()
    manager.post(f"/knowledge/categories/{billing.pk}/", {f"c{billing.pk}-name": "Payments"})
    billing.refresh_from_db()
    assert billing.name == "Payments"
    make_article(category=billing)
    r = manager.post(f"/knowledge/categories/{billing.pk}/delete/")
    assert r.status_code == 409 and KbCategory.objects.exists()


def test_case_suggestions_panel_and_usage(personas, make_article, make_case):
    article = make_article(title="Reset a password", body="Use the link.")
    case = make_case(subject="Password reset")
    admin = client_for(personas.admin)
    r = admin.get(f"/knowledge/suggest/case/{case.pk}/", **HTMX)
    html = r.content.decode()
    assert r.status_code == 200 and "Reset a password" in html and "Insert into reply" in html
    assert f'data-kb-use-url="/knowledge/articles/{article.pk}/use/{case.pk}/"' in html
    r = admin.post(f"/knowledge/articles/{article.pk}/use/{case.pk}/", **HTMX)
    assert r.status_code == 204 and ArticleCaseUse.objects.filter(case=case).exists()
    # Cases follow their customer, queue and owner: the outsider sees none of them.
    outsider = client_for(personas.outsider)
    assert outsider.get(f"/knowledge/suggest/case/{case.pk}/", **HTMX).status_code == 404
    assert outsider.post(f"/knowledge/articles/{article.pk}/use/{case.pk}/").status_code == 404
