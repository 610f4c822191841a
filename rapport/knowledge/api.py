"""REST endpoints of the knowledge base (/api/knowledge): articles (CRUD, search, versions,
votes, usage on a case, suggestions for a case) and categories. Thin: the selectors decide
what the caller sees, the services what they may change."""

import datetime
from typing import Literal

from django.core.exceptions import ValidationError
from ninja import Field, Query, Router, Schema, Status

from rapport.api.patch import PatchDict
from rapport.knowledge import selectors, services
from rapport.knowledge.models import Article, KbCategory
from rapport.knowledge.rendering import render_markdown
from rapport.records.api import ERRORS, Id

router = Router(tags=["knowledge"])

KbStatus = Literal["draft", "published", "archived"]
KbVisibility = Literal["internal", "public"]


class KbCategoryOut(Schema):
    id: int
    name: str
    description: str
    parent_id: int | None
    case_category_id: int | None
    position: int
    article_count: int = 0


class KbCategoryChange(Schema):
    """What a PATCH may change: through PatchDict, so `null` clears the description, answers
    422 for the name and the position, and empties the parent or the case category."""

    name: str = Field(..., max_length=120)
    description: str = Field("", max_length=300)
    parent_id: Id | None = None
    case_category_id: Id | None = Field(
        None, description="the case category whose cases get this shelf's articles suggested"
    )
    position: int = Field(0, ge=0, le=100_000)


class KbCategoryIn(KbCategoryChange):
    position: int | None = Field(None, ge=0, le=100_000, description="empty: after the last")


class KbArticleSummaryOut(Schema):
    id: int
    title: str
    slug: str
    category_id: int | None
    visibility: KbVisibility
    status: KbStatus
    version: int
    helpful_count: int
    not_helpful_count: int
    view_count: int
    resolved_case_uses: int = Field(description="resolved or closed cases it was used on")
    updated_at: datetime.datetime
    url_path: str

    @staticmethod
    def resolve_version(obj: Article) -> int:
        return obj.current_version.number if obj.current_version_id else 0

    @staticmethod
    def resolve_resolved_case_uses(obj: Article) -> int:
        return getattr(obj, "resolved_uses", 0)

    @staticmethod
    def resolve_url_path(obj: Article) -> str:
        return f"/knowledge/articles/{obj.pk}/"


class KbArticleOut(KbArticleSummaryOut):
    body: str = Field(description="Markdown")
    body_html: str = Field(description="the body rendered and sanitised")
    author_id: int | None
    created_at: datetime.datetime
    published_at: datetime.datetime | None

    @staticmethod
    def resolve_body_html(obj: Article) -> str:
        return render_markdown(obj.body)


class KbArticleListOut(Schema):
    count: int
    items: list[KbArticleSummaryOut]


class KbArticleIn(Schema):
    title: str = Field(..., max_length=200)
    body: str = Field("", max_length=services.MAX_BODY, description="Markdown")
    category_id: Id | None = None
    visibility: KbVisibility = "internal"
    status: KbStatus = "draft"
    change_note: str = Field("", max_length=300)


class KbArticlePatch(Schema):
    title: str | None = Field(None, max_length=200)
    body: str | None = Field(None, max_length=services.MAX_BODY)
    category_id: Id | None = None
    visibility: KbVisibility | None = None
    status: KbStatus | None = None
    change_note: str = Field("", max_length=300)
    base_version: int | None = Field(
        None, ge=1, description="the version edited; 412 if another was saved since"
    )


class KbArticleParams(Schema):
    q: str | None = Field(None, max_length=200, description="words in the title or body")
    category_id: Id | None = None
    status: KbStatus | None = None
    visibility: KbVisibility | None = None
    limit: int = Field(50, ge=1, le=100)
    offset: int = Field(0, ge=0, le=10_000)


class KbVersionOut(Schema):
    number: int
    title: str
    body: str
    change_note: str
    author_id: int | None
    created_at: datetime.datetime


class KbVoteIn(Schema):
    helpful: bool
    comment: str = Field("", max_length=services.MAX_COMMENT)


class KbVoteOut(Schema):
    helpful: bool
    comment: str
    helpful_count: int
    not_helpful_count: int


class KbCaseUseIn(Schema):
    case_id: Id


class KbCaseUseOut(Schema):
    article_id: int
    case_id: int
    used_at: datetime.datetime


class KbSuggestParams(Schema):
    case_id: Id
    limit: int = Field(5, ge=1, le=20)


# ----- helpers -----------------------------------------------------------------------------


def _category(pk: int | None, field: str = "category_id") -> KbCategory | None:
    if pk is None:
        return None
    category = KbCategory.objects.filter(pk=pk).first()
    if category is None:
        raise ValidationError({field: [ValidationError("No such category", code="not_found")]})
    return category


def _case_category(pk: int | None):
    if pk is None:
        return None
    from rapport.cases.models import CaseCategory

    found = CaseCategory.objects.filter(pk=pk).first()
    if found is None:
        raise ValidationError(
            {"case_category_id": [ValidationError("No such case category", code="not_found")]}
        )
    return found


def _article(request, article_id: int) -> Article:
    return selectors.article_get_for_user(user=request.user, pk=article_id)


# ----- articles ----------------------------------------------------------------------------


@router.get(
    "/articles", response={200: KbArticleListOut, **ERRORS}, operation_id="kb_articles_list"
)
def articles_list(request, params: Query[KbArticleParams]):
    """Articles you may read (drafts and archived ones only if you may edit); with `q`, those
    matching every word, best first."""
    qs = selectors.article_list(
        user=request.user,
        q=params.q,
        category_id=params.category_id,
        status=params.status,
        visibility=params.visibility,
    ).select_related("current_version")
    if not params.q:
        qs = qs.order_by("-updated_at", "-id")
    return {"count": qs.count(), "items": list(qs[params.offset : params.offset + params.limit])}


@router.get(
    "/articles/suggested",
    response={200: list[KbArticleSummaryOut], **ERRORS},
    operation_id="kb_articles_suggested",
)
def articles_suggested(request, params: Query[KbSuggestParams]):
    """Published articles that fit a case you may see (its subject, description, category)."""
    case = selectors.case_get_for_user(user=request.user, case_id=params.case_id)
    return selectors.articles_suggested_for_case(case=case, user=request.user, limit=params.limit)


@router.post("/articles", response={201: KbArticleOut, **ERRORS}, operation_id="kb_article_create")
def article_create(request, payload: KbArticleIn):
    article = services.article_create(
        actor=request.user,
        title=payload.title,
        body=payload.body,
        category=_category(payload.category_id),
        visibility=payload.visibility,
        status=payload.status,
        change_note=payload.change_note,
    )
    return Status(201, _article(request, article.pk))


@router.get(
    "/articles/{int:article_id}",
    response={200: KbArticleOut, **ERRORS},
    operation_id="kb_article_get",
)
def article_get(request, article_id: int):
    return _article(request, article_id)


@router.patch(
    "/articles/{int:article_id}",
    response={200: KbArticleOut, **ERRORS},
    operation_id="kb_article_update",
)
def article_update(request, article_id: int, payload: KbArticlePatch):
    """Change an article; a changed title or body becomes a new version."""
    article = _article(request, article_id)
    sent = payload.dict(exclude_unset=True)
    services.article_update(
        article=article,
        actor=request.user,
        title=payload.title,
        body=payload.body,
        change_note=payload.change_note,
        category=_category(payload.category_id) if "category_id" in sent else services.UNSET,
        visibility=payload.visibility,
        status=payload.status,
        base_version=payload.base_version,
    )
    return _article(request, article_id)


@router.delete(
    "/articles/{int:article_id}", response={204: None, **ERRORS}, operation_id="kb_article_delete"
)
def article_delete(request, article_id: int):
    """Delete an article that was never used on a case (409 otherwise: archive it)."""
    services.article_delete(article=_article(request, article_id), actor=request.user)
    return Status(204, None)


@router.get(
    "/articles/{int:article_id}/versions",
    response={200: list[KbVersionOut], **ERRORS},
    operation_id="kb_article_versions",
)
def article_versions(request, article_id: int):
    return list(selectors.article_versions(article=_article(request, article_id)))


@router.get(
    "/articles/{int:article_id}/versions/{int:number}",
    response={200: KbVersionOut, **ERRORS},
    operation_id="kb_article_version_get",
)
def article_version_get(request, article_id: int, number: int):
    return selectors.article_version_get(article=_article(request, article_id), number=number)


@router.post(
    "/articles/{int:article_id}/versions/{int:number}/restore",
    response={200: KbArticleOut, **ERRORS},
    operation_id="kb_article_version_restore",
)
def article_version_restore(request, article_id: int, number: int):
    """Make an earlier version current again (as a new version)."""
    article = _article(request, article_id)
    selectors.article_version_get(article=article, number=number)  # 404 when missing
    services.article_restore_version(article=article, number=number, actor=request.user)
    return _article(request, article_id)


@router.post(
    "/articles/{int:article_id}/vote",
    response={200: KbVoteOut, **ERRORS},
    operation_id="kb_article_vote",
)
def article_vote(request, article_id: int, payload: KbVoteIn):
    """Your one "was this helpful?" vote on a published article (send again to change it)."""
    article = _article(request, article_id)
    vote = services.article_vote(
        article=article, helpful=payload.helpful, comment=payload.comment, user=request.user
    )
    return {
        "helpful": vote.helpful,
        "comment": vote.comment,
        "helpful_count": article.helpful_count,
        "not_helpful_count": article.not_helpful_count,
    }


@router.post(
    "/articles/{int:article_id}/case-uses",
    response={201: KbCaseUseOut, **ERRORS},
    operation_id="kb_article_case_use",
)
def article_case_use(request, article_id: int, payload: KbCaseUseIn):
    """Record that you used the article on a case you may see."""
    article = _article(request, article_id)
    case = selectors.case_get_for_user(user=request.user, case_id=payload.case_id)
    use = services.article_used_in_case(article=article, case=case, actor=request.user)
    return Status(201, {"article_id": article.pk, "case_id": case.pk, "used_at": use.used_at})


# ----- categories --------------------------------------------------------------------------


@router.get(
    "/categories", response={200: list[KbCategoryOut], **ERRORS}, operation_id="kb_categories_list"
)
def categories_list(request):
    """Every category, with the number of articles in it you may read."""
    return selectors.kb_categories(user=request.user)


@router.post(
    "/categories", response={201: KbCategoryOut, **ERRORS}, operation_id="kb_category_create"
)
def category_create(request, payload: KbCategoryIn):
    fields = {
        "name": payload.name,
        "description": payload.description,
        "parent": _category(payload.parent_id, "parent_id"),
        "case_category": _case_category(payload.case_category_id),
    }
    if payload.position is not None:
        fields["position"] = payload.position
    return Status(201, services.kb_category_create(actor=request.user, **fields))


@router.patch(
    "/categories/{int:category_id}",
    response={200: KbCategoryOut, **ERRORS},
    operation_id="kb_category_update",
)
def category_update(request, category_id: int, payload: PatchDict[KbCategoryChange]):
    category = selectors.kb_category_get(pk=category_id)
    sent = dict(payload)
    fields = {k: v for k, v in sent.items() if k in ("name", "description", "position")}
    if "parent_id" in sent:
        fields["parent"] = _category(sent["parent_id"], "parent_id")
    if "case_category_id" in sent:
        fields["case_category"] = _case_category(sent["case_category_id"])
    return services.kb_category_update(category=category, actor=request.user, **fields)


@router.delete(
    "/categories/{int:category_id}",
    response={204: None, **ERRORS},
    operation_id="kb_category_delete",
)
def category_delete(request, category_id: int):
    """Delete an empty category (409 while it holds articles or sub-categories)."""
    category = selectors.kb_category_get(pk=category_id)
    services.kb_category_delete(category=category, actor=request.user)
    return Status(204, None)
