"""Reads of the knowledge base, each narrowed to what the user may see.

Every active staff user reads published articles, internal and public alike; writers
(who may edit) also see drafts and archived articles. Searching and suggesting go through
the search service (rapport/search): the article index there covers the title and the
Markdown body, on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm) alike.
"""

import re

from django.db import connections
from django.db.models import Case as Choose
from django.db.models import Count, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

from rapport.cases.selectors import cases_visible_to
from rapport.identity.models import User
from rapport.knowledge.models import (
    Article,
    ArticleStatus,
    ArticleVersion,
    ArticleVisibility,
    KbCategory,
)
from rapport.knowledge.services import can_edit_articles
from rapport.records.exceptions import RecordNotFound
from rapport.search.matching import Term, index_for, matching_ids_sql, search_filter

RESOLVED = ("resolved", "closed")  # rapport.cases.models.CaseStatus, as stored


def articles_visible_to(user: User) -> QuerySet[Article]:
    """Articles `user` may read: none for the signed-out or inactive, published ones for
    everyone else, and every article for those who may edit."""
    if not (user.is_authenticated and user.is_active):
        return Article.objects.none()
    if can_edit_articles(user):
        return Article.objects.all()
    return Article.objects.filter(status=ArticleStatus.PUBLISHED)


def with_resolved_uses(qs: QuerySet[Article]) -> QuerySet[Article]:
    """Annotate `resolved_uses`: the cases now resolved or closed the article was used on."""
    return qs.annotate(
        resolved_uses=Count(
            "case_uses",
            filter=Q(case_uses__case__status__in=RESOLVED, case_uses__case__deleted_at=None),
            distinct=True,
        )
    )


def article_get_for_user(*, user: User, pk: int) -> Article:
    article = (
        with_resolved_uses(articles_visible_to(user))
        .select_related("category", "category__parent", "author", "current_version")
        .filter(pk=pk)
        .first()
    )
    if article is None:
        raise RecordNotFound("article")
    return article


def article_versions(*, article: Article) -> QuerySet[ArticleVersion]:
    return article.versions.select_related("author").order_by("-number")


def article_version_get(*, article: Article, number: int) -> ArticleVersion:
    version = article.versions.select_related("author").filter(number=number).first()
    if version is None:
        raise RecordNotFound("version")
    return version


def article_list(
    *,
    user: User,
    q: str | None = None,
    category_id: int | None = None,
    status: str | None = None,
    visibility: str | None = None,
) -> QuerySet[Article]:
    """Articles `user` may read, filtered; with `q`, those matching every word of it (title
    or body), titles starting with the first word first, then the most helpful."""
    qs = articles_visible_to(user).select_related("category", "author")
    if category_id:
        qs = qs.filter(Q(category_id=category_id) | Q(category__parent_id=category_id))
    if status:
        qs = qs.filter(status=status)
    if visibility:
        qs = qs.filter(visibility=visibility)
    q = (q or "").strip()
    if q:
        qs = search_filter(qs, q, fields=["title", "body"])
        first = q.split()[0]
        qs = qs.annotate(
            _title_rank=Choose(
                When(title__istartswith=first, then=Value(0)),
                When(title__icontains=first, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        ).order_by("_title_rank", "-helpful_count", "title", "id")
    return with_resolved_uses(qs)


def kb_categories(*, user: User) -> list[KbCategory]:
    """Every category with `article_count`: the articles in it (and its sub-categories)
    that `user` may read."""
    visible = articles_visible_to(user)
    counts = dict(
        visible.filter(category__isnull=False)
        .values_list("category_id")
        .annotate(n=Count("id"))
        .values_list("category_id", "n")
    )
    categories = list(KbCategory.objects.select_related("parent", "case_category"))
    for category in categories:
        category.article_count = counts.get(category.pk, 0) + sum(
            counts.get(c.pk, 0) for c in categories if c.parent_id == category.pk
        )
    return categories


def kb_category_get(*, pk: int) -> KbCategory:
    category = KbCategory.objects.filter(pk=pk).first()
    if category is None:
        raise RecordNotFound("category")
    return category


def articles_most_helpful(*, user: User, limit: int = 5) -> QuerySet[Article]:
    return (
        articles_visible_to(user)
        .filter(status=ArticleStatus.PUBLISHED, helpful_count__gt=0)
        .select_related("category")
        .order_by("-helpful_count", "not_helpful_count", "title", "id")[:limit]
    )


def articles_recently_updated(*, user: User, limit: int = 8) -> QuerySet[Article]:
    return (
        articles_visible_to(user)
        .select_related("category", "author")
        .order_by("-updated_at", "-id")[:limit]
    )


# ----- cases -------------------------------------------------------------------------------


def case_get_for_user(*, user: User, case_id: int):
    case = cases_visible_to(user).filter(pk=case_id).first()
    if case is None:
        raise RecordNotFound("case")
    return case


# ----- suggestions -------------------------------------------------------------------------

STOPWORDS = frozenset(
    """
    about above after again against also although always among another anyone anything
    because been before being below between both cannot could does doing done down during
    each either else even ever every from further have having hello here hers herself hi
    himself into itself just know like make many maybe more most much must myself need
    never none once only other ours ourselves over please really same seems should since
    some still such than thank thanks that their theirs them themselves then there these
    they this those though through today together tried trying under until upon very want
    were what when where whether which while with within without would your yours
    yourself yourselves dear regards best kind problem issue help hope sorry getting
    the and for you not but can has was are our any how why who get got its all one two
    new now see use did had her him his she may let own too way yes per via ago
    """.split()  # noqa: SIM905 - a word list reads better as text
)
SUBJECT_WEIGHT, BODY_WEIGHT, TITLE_BONUS, CATEGORY_BONUS = 3, 1, 2, 4
MAX_TERMS = 12
_WORD = re.compile(r"[^\W_]+")


def _stem(word: str) -> str:
    """A crude English stem: substring matching then finds the other forms ("passwords",
    "resetting" → "password", "reset")."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    if len(word) >= 5 and word[-1] == word[-2]:  # "resett" → "reset"
        word = word[:-1]
    return word


def suggestion_terms(subject: str, description: str) -> list[tuple[str, int]]:
    """(stem, weight) of the significant words of a case: subject words weigh more."""
    weights: dict[str, int] = {}
    for text, weight in ((subject, SUBJECT_WEIGHT), (description, BODY_WEIGHT)):
        for word in _WORD.findall((text or "").lower()):
            if len(word) < 3 or word in STOPWORDS or word.isdigit():
                continue
            stem = _stem(word)
            if stem not in weights and len(weights) >= MAX_TERMS:
                continue
            weights[stem] = max(weights.get(stem, 0), weight)
    return list(weights.items())


def articles_suggested_for_case(*, case, user: User, limit: int = 5) -> list[Article]:
    """Published articles `user` may read that best fit the case: each significant word of
    its subject (×3) and description (×1) found in an article's title or body counts (a
    title match counts more), an article in the knowledge category tied to the case's
    category counts more still; ties go to the most helpful. Words are matched through the
    search service's article index."""
    terms = suggestion_terms(case.subject, case.description)
    qs = articles_visible_to(user).filter(status=ArticleStatus.PUBLISHED)
    index = index_for(qs)
    vendor = connections[qs.db].vendor
    score = Value(0)
    for text, weight in terms:
        if index is not None:
            (sql, params), *_ = matching_ids_sql(index, [Term(text, (text,))], vendor)
            found = Q(pk__in=RawSQL(sql, params))  # noqa: S611 - the service's SQL, words as params
        else:
            found = Q(title__icontains=text) | Q(body__icontains=text)
        score = score + Choose(
            When(found, then=Value(weight)), default=Value(0), output_field=IntegerField()
        )
        score = score + Choose(
            When(title__icontains=text, then=Value(TITLE_BONUS)),
            default=Value(0),
            output_field=IntegerField(),
        )
    categories = [c for c in (case.category_id, case.subcategory_id) if c]
    if categories:
        score = score + Choose(
            When(
                Q(category__case_category_id__in=categories)
                | Q(category__parent__case_category_id__in=categories),
                then=Value(CATEGORY_BONUS),
            ),
            default=Value(0),
            output_field=IntegerField(),
        )
    if not terms and not categories:
        return []
    ranked = (
        qs.annotate(_score=Coalesce(score, Value(0), output_field=IntegerField()))
        .filter(_score__gt=0)
        .select_related("category", "current_version")
        .order_by("-_score", "-helpful_count", "title", "id")[: max(1, min(limit, 20))]
    )
    return _with_uses(list(ranked))


def _with_uses(articles: list[Article]) -> list[Article]:
    """Set `resolved_uses` on each article (one query for all)."""
    uses = dict(
        with_resolved_uses(Article.objects.filter(pk__in=[a.pk for a in articles])).values_list(
            "pk", "resolved_uses"
        )
    )
    for article in articles:
        article.resolved_uses = uses.get(article.pk, 0)
    return articles


def article_search_hits(*, user: User, q: str, limit: int) -> list[dict]:
    """The global search's article group (typeahead and results page): up to `limit`
    articles `user` may read that match every word of `q` (title or body, through the
    search service's index), titles starting with the first word first. Each hit names the
    article's visibility, so staff see at a glance whether a customer may be sent it."""
    # A NUL cannot reach PostgreSQL (a text parameter may not contain one): it is no
    # character anyone searches for.
    q = (q or "").replace("\x00", "").strip()
    if not q:
        return []
    first = q.split()[0]
    rows = (
        search_filter(articles_visible_to(user), q, fields=["title", "body"])
        .annotate(
            _title_rank=Choose(
                When(title__istartswith=first, then=Value(0)),
                When(title__icontains=first, then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
        .order_by("_title_rank", "-helpful_count", "title", "id")
        .values("id", "title", "visibility", "status", "category__name")[: max(1, limit)]
    )
    hits = []
    for row in rows:
        parts = [
            "Public" if row["visibility"] == ArticleVisibility.PUBLIC else "Internal",
            row["category__name"] or "",
            "" if row["status"] == ArticleStatus.PUBLISHED else ArticleStatus(row["status"]).label,
        ]
        hits.append(
            {
                "type": "article",
                "id": row["id"],
                "title": row["title"],
                "subtitle": " · ".join(p for p in parts if p),
                "url_path": f"/knowledge/articles/{row['id']}/",
                "visibility": row["visibility"],
            }
        )
    return hits
