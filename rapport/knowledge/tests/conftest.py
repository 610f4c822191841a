"""Knowledge-base fixtures: articles written through the service, plain cases."""

import itertools

import pytest

from rapport.knowledge.models import ArticleStatus
from rapport.knowledge.services import article_create, kb_category_create

_numbers = itertools.count(1000)


@pytest.fixture
def make_article(personas):
    """make_article(title=..., body=..., **fields) → a published article by the owner."""

    def make(title="How to reset a password", body="Open *Settings*.", actor=None, **fields):
        fields.setdefault("status", ArticleStatus.PUBLISHED)
        return article_create(actor=actor or personas.owner, title=title, body=body, **fields)

    return make


@pytest.fixture
def make_category(personas):
    def make(name="Billing", **fields):
        return kb_category_create(actor=personas.admin, name=name, **fields)

    return make


@pytest.fixture
def make_case(db):
    """A plain case row (the cases app's services arrive with its branch)."""
    from rapport.cases.models import Case

    def make(subject="Cannot log in", description="", **fields):
        return Case.objects.create(
            number=next(_numbers), subject=subject, description=description, **fields
        )

    return make
