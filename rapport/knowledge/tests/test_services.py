"""Articles and their versions, categories, votes and usage on cases, through the services."""

import pytest
from django.core.exceptions import ValidationError

from rapport.knowledge.models import ArticleCaseUse, ArticleStatus, ArticleVote
from rapport.knowledge.services import (
    article_create,
    article_delete,
    article_restore_version,
    article_update,
    article_used_in_case,
    article_vote,
    kb_category_create,
    kb_category_delete,
    kb_category_update,
)
from rapport.records.exceptions import Conflict, PermissionDenied, StaleVersion

pytestmark = pytest.mark.django_db


def test_editing_the_text_writes_a_new_version_and_keeps_the_old(make_article, personas):
    article = make_article(title="Reset a password", body="Step one")
    assert article.current_version.number == 1
    article_update(
        article=article, actor=personas.teammate, body="Step one\n\nStep two", change_note="more"
    )
    article.refresh_from_db()
    assert article.body == "Step one\n\nStep two"
    versions = list(article.versions.order_by("number"))
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].body == "Step one"
    assert versions[1].author == personas.teammate
    assert versions[1].change_note == "more"
    assert article.current_version == versions[1]


def test_changing_only_the_status_writes_no_version(make_article, personas):
    article = make_article(status=ArticleStatus.DRAFT)
    assert article.published_at is None
    article_update(article=article, actor=personas.owner, status=ArticleStatus.PUBLISHED)
    article.refresh_from_db()
    assert article.versions.count() == 1
    assert article.status == ArticleStatus.PUBLISHED
    assert article.published_at is not None


def test_restoring_a_version_makes_a_new_version_with_the_old_text(make_article, personas):
    article = make_article(title="Old title", body="old")
    article_update(article=article, actor=personas.owner, title="New title", body="new")
    article_restore_version(article=article, number=1, actor=personas.teammate)
    article.refresh_from_db()
    assert (article.title, article.body) == ("Old title", "old")
    assert article.current_version.number == 3
    assert article.current_version.change_note == "Restored version 1"
    with pytest.raises(ValidationError) as exc:
        article_restore_version(article=article, number=9, actor=personas.owner)
    assert "number" in exc.value.error_dict


def test_an_editor_working_from_an_old_version_gets_a_stale_error(make_article, personas):
    article = make_article()
    article_update(article=article, actor=personas.owner, body="theirs", base_version=1)
    with pytest.raises(StaleVersion):
        article_update(article=article, actor=personas.teammate, body="mine", base_version=1)
    article.refresh_from_db()
    assert article.body == "theirs"


def test_the_slug_stays_unique(make_article):
    a = make_article(title="Refunds")
    b = make_article(title="Refunds")
    assert a.slug == "refunds" and b.slug == "refunds-2"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "  "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "ok", "visibility": "secret"}, "visibility"),
        ({"title": "ok", "status": "gone"}, "status"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(personas, fields, field):
    from rapport.knowledge.models import Article

    with pytest.raises(ValidationError) as exc:
        article_create(actor=personas.owner, **fields)
    assert field in exc.value.error_dict
    assert not Article.objects.exists()


def test_read_only_users_cannot_write_articles(make_article, personas):
    with pytest.raises(PermissionDenied):
        article_create(actor=personas.reader, title="Nope")
    article = make_article()
    with pytest.raises(PermissionDenied):
        article_update(article=article, actor=personas.reader, body="changed")
    with pytest.raises(PermissionDenied):
        article_delete(article=article, actor=personas.reader)


def test_one_vote_per_voter_changeable_and_counted(make_article, personas):
    article = make_article()
    article_vote(article=article, helpful=True, user=personas.owner)
    article_vote(article=article, helpful=True, user=personas.teammate)
    article_vote(article=article, helpful=True, user=personas.teammate)  # same again
    assert (article.helpful_count, article.not_helpful_count) == (2, 0)
    article_vote(article=article, helpful=False, user=personas.teammate, comment="Outdated")
    assert (article.helpful_count, article.not_helpful_count) == (1, 1)
    assert ArticleVote.objects.filter(article=article).count() == 2
    anonymous = article_vote(article=article, helpful=False, session_key="abc123")
    assert anonymous.voter_key.startswith("session:") and "abc123" not in anonymous.voter_key
    assert (article.helpful_count, article.not_helpful_count) == (1, 2)


def test_drafts_take_no_votes(make_article, personas):
    draft = make_article(status=ArticleStatus.DRAFT)
    with pytest.raises(Conflict):
        article_vote(article=draft, helpful=True, user=personas.owner)


def test_usage_on_a_case_is_recorded_once_per_case(make_article, make_case, personas):
    article = make_article()
    case = make_case()
    article_used_in_case(article=article, case=case, actor=personas.owner)
    article_used_in_case(article=article, case=case, actor=personas.teammate)
    use = ArticleCaseUse.objects.get()
    assert use.used_by == personas.teammate
    with pytest.raises(Conflict):
        article_delete(article=article, actor=personas.owner)


def test_categories_are_for_managers_and_only_empty_ones_go(make_article, personas):
    with pytest.raises(PermissionDenied):
        kb_category_create(actor=personas.owner, name="Billing")
    billing = kb_category_create(actor=personas.manager, name="Billing")
    invoices = kb_category_create(actor=personas.manager, name="Invoices", parent=billing)
    assert invoices.position == 0 and str(invoices) == "Billing › Invoices"
    with pytest.raises(ValidationError):
        kb_category_create(actor=personas.manager, name="billing")
    with pytest.raises(ValidationError):
        kb_category_create(actor=personas.manager, name="Deeper", parent=invoices)
    kb_category_update(category=billing, actor=personas.admin, name="Billing & payments")
    make_article(category=invoices)
    with pytest.raises(Conflict):
        kb_category_delete(category=billing, actor=personas.admin)
    with pytest.raises(Conflict):
        kb_category_delete(category=invoices, actor=personas.admin)
