"""Knowledge articles in the header's global search (typeahead and results page): staff
find published articles, internal and public alike, each marked with its visibility;
drafts only show to those who may edit them; signed-out users get nothing."""

import pytest
from django.test import Client

from rapport.knowledge.models import ArticleStatus, ArticleVisibility

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def articles(make_article):
    return {
        "internal": make_article(title="Refund escalation", body="Call finance first."),
        "public": make_article(
            title="Refund policy",
            body="Refunds take five days.",
            visibility=ArticleVisibility.PUBLIC,
        ),
        "draft": make_article(title="Refund draft", body="Unsure.", status=ArticleStatus.DRAFT),
        "other": make_article(title="Printer setup", body="Plug it in."),
    }


def test_typeahead_lists_matching_articles_with_their_visibility(personas, articles):
    page = client_for(personas.reader).get("/search/suggest", {"q": "refund"}).content.decode()
    assert "Knowledge articles" in page
    assert f'href="/knowledge/articles/{articles["public"].pk}/"' in page
    assert f'href="/knowledge/articles/{articles["internal"].pk}/"' in page
    assert "Public" in page and "Internal" in page
    assert "Refund draft" not in page  # a read-only user does not see drafts
    assert "Printer setup" not in page


def test_results_page_shows_drafts_to_writers_only(personas, articles):
    writer = client_for(personas.owner).get("/search", {"q": "refund"}).content.decode()
    assert "Knowledge articles" in writer and "Refund draft" in writer and "Draft" in writer
    reader = client_for(personas.reader).get("/search", {"q": "refund"}).content.decode()
    assert "Refund policy" in reader and "Refund draft" not in reader
    # Body words match too, through the search service's article index.
    found = client_for(personas.reader).get("/search", {"q": "finance"}).content.decode()
    assert "Refund escalation" in found and "Refund policy" not in found


def test_signed_out_visitors_get_no_articles(articles):
    response = Client().get("/search/suggest", {"q": "refund"})
    assert response.status_code in (302, 401, 403)
