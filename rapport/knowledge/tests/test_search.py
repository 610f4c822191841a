"""Searching articles and suggesting them for a case, through the search service's article
index (SQLite FTS5 / PostgreSQL trigram: this file runs on both in CI)."""

import pytest
from django.db import connection

from rapport.knowledge.models import ArticleStatus
from rapport.knowledge.selectors import (
    article_list,
    articles_suggested_for_case,
    articles_visible_to,
    suggestion_terms,
)
from rapport.knowledge.services import article_update, article_used_in_case, article_vote

pytestmark = pytest.mark.django_db


def titles(qs) -> list[str]:
    return [a.title for a in qs]


def test_search_finds_words_in_title_and_body_through_the_index(make_article, personas):
    vpn = make_article(title="Connecting to the VPN", body="Install the client, then sign in.")
    make_article(title="Printer jams", body="Open tray two.")
    assert titles(article_list(user=personas.owner, q="vpn")) == [vpn.title]
    assert titles(article_list(user=personas.owner, q="CLIENT sign")) == [vpn.title]
    assert titles(article_list(user=personas.owner, q="client printer")) == []


def test_the_index_follows_edits(make_article, personas):
    article = make_article(title="Refunds", body="Within 30 days.")
    article_update(article=article, actor=personas.owner, body="Within fourteen days.")
    assert titles(article_list(user=personas.owner, q="fourteen")) == ["Refunds"]
    assert titles(article_list(user=personas.owner, q="30 days")) == []


def test_search_uses_the_index(make_article, personas):
    """With enough rows that an index pays (like the search app's own plan test): a tiny
    table lets PostgreSQL's planner pick another plan whatever the statistics left by the
    tests before say."""
    from rapport.knowledge.models import Article
    from rapport.search.services import search_optimize
    from rapport.web.testing import query_plan

    make_article(title="Refunds", body="Within 30 days.")
    Article.objects.bulk_create(
        [
            Article(title=f"Other topic {i}", body="Nothing here.", slug=f"other-{i}")
            for i in range(3000)
        ]
    )
    search_optimize()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE knowledge_article")
    plan = query_plan(article_list(user=personas.owner, q="refund"))
    if connection.vendor == "sqlite":
        assert "search_article_fts VIRTUAL TABLE INDEX" in plan
    else:
        assert "search_article_trgm" in plan


def test_titles_starting_with_the_word_come_first(make_article, personas):
    make_article(title="Change an invoice address", body="Invoice settings.")
    make_article(title="Invoice numbering", body="Sequential.")
    assert titles(article_list(user=personas.owner, q="invoice"))[0] == "Invoice numbering"


def test_readers_see_published_articles_only_writers_see_all(make_article, personas):
    make_article(title="Live")
    make_article(title="Draft one", status=ArticleStatus.DRAFT)
    make_article(title="Old one", status=ArticleStatus.ARCHIVED)
    assert titles(articles_visible_to(personas.reader)) == ["Live"]
    assert set(titles(articles_visible_to(personas.teammate))) == {"Live", "Draft one", "Old one"}
    assert titles(articles_visible_to(personas.deactivated)) == []


def test_suggestion_terms_drop_filler_and_weigh_the_subject():
    terms = dict(suggestion_terms("Resetting my passwords", "Hello, please help with the VPN"))
    assert terms == {"reset": 3, "password": 3, "vpn": 1}


def test_suggestions_rank_by_the_case_text_and_category(
    make_article, make_case, make_category, personas
):
    from rapport.cases.models import CaseCategory

    access = CaseCategory.objects.create(name="Access")
    accounts_shelf = make_category(name="Accounts", case_category=access)
    reset = make_article(
        title="Reset a forgotten password", body="Use the *Forgot password* link on sign-in."
    )
    lockout = make_article(
        title="Account locked after failed sign-ins",
        body="Five failed attempts lock the account for 15 minutes; a password reset unlocks it.",
        category=accounts_shelf,
    )
    make_article(title="Printer jams", body="Open tray two.")
    make_article(title="Password policy", body="Twelve characters.", status=ArticleStatus.DRAFT)

    case = make_case(subject="Forgot my password", description="I cannot sign in since yesterday.")
    suggested = articles_suggested_for_case(case=case, user=personas.owner)
    assert suggested[0] == reset  # "forgot" and "password" in the title
    assert lockout in suggested
    assert "Printer jams" not in titles(suggested)
    assert "Password policy" not in titles(suggested)  # drafts are never suggested

    locked_case = make_case(subject="Locked out", description="password", category=access)
    assert articles_suggested_for_case(case=locked_case, user=personas.owner)[0] == lockout
    assert (
        articles_suggested_for_case(
            case=make_case(subject="Zebra", description=""), user=personas.owner
        )
        == []
    )


def test_equal_matches_go_to_the_most_helpful_and_carry_resolved_usage(
    make_article, make_case, personas
):
    a = make_article(title="Refund by card", body="Refunds take five days.")
    b = make_article(title="Refund by transfer", body="Refunds take five days.")
    article_vote(article=b, helpful=True, user=personas.owner)
    resolved = make_case(subject="Refund", status="resolved")
    article_used_in_case(article=b, case=resolved, actor=personas.owner)
    article_used_in_case(article=b, case=make_case(subject="Refund open"), actor=personas.owner)
    suggested = articles_suggested_for_case(
        case=make_case(subject="Refund please"), user=personas.owner
    )
    assert suggested[:2] == [b, a]
    assert (suggested[0].resolved_uses, suggested[1].resolved_uses) == (1, 0)
    listed = {x.pk: x.resolved_uses for x in article_list(user=personas.owner)}
    assert listed == {a.pk: 0, b.pk: 1}
