"""Writes of the knowledge base: categories, articles and their versions, votes, usage.

Editing an article's title or body writes a new ArticleVersion and copies it onto the
article (the row the search index reads), in one transaction with the article locked, so
version numbers never collide. Writers (every active user who is not read-only) edit
articles; managers and administrators arrange the categories.
"""

import hashlib
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from rapport.identity.models import Role, User
from rapport.knowledge.models import (
    Article,
    ArticleCaseUse,
    ArticleStatus,
    ArticleVersion,
    ArticleVisibility,
    ArticleVote,
    KbCategory,
)
from rapport.records.exceptions import Conflict, PermissionDenied, StaleVersion
from rapport.records.services import require_writer

MAX_TITLE = 200
MAX_BODY = 100_000
MAX_NOTE = 300
MAX_COMMENT = 1000
UNSET: Any = object()


def _error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


# ----- permissions -------------------------------------------------------------------------


def require_kb_writer(actor: User) -> None:
    """Read-only users may read the knowledge base but not change it (PermissionDenied)."""
    require_writer(actor)


def can_edit_articles(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and not user.is_read_only)


def require_kb_category_admin(actor: User) -> None:
    if not (actor.is_admin or (actor.is_active and actor.role == Role.MANAGER)):
        raise PermissionDenied(
            "Only managers and administrators may arrange knowledge categories",
            code="kb_category_admins_only",
        )


# ----- categories ----------------------------------------------------------------------------


def _category_fields(category: KbCategory, fields: dict) -> list[str]:
    changed = []
    for name in ("name", "description", "parent", "case_category", "position"):
        if name in fields:
            value = fields[name]
            if isinstance(value, str):
                value = value.strip()
            setattr(category, name, value)
            changed.append(name)
    if not category.name:
        raise _error("name", "A category needs a name", "required")
    if len(category.name) > 120:
        raise _error("name", "At most 120 characters", "too_long")
    if category.parent_id:
        if category.pk and category.parent_id == category.pk:
            raise _error("parent_id", "A category cannot be its own parent", "cycle")
        if category.parent.parent_id:
            raise _error("parent_id", "Sub-categories go one level deep", "too_deep")
        if category.pk and category.children.exists():
            raise _error("parent_id", "A category with sub-categories stays at the top", "too_deep")
    siblings = KbCategory.objects.filter(parent=category.parent, name__iexact=category.name)
    if siblings.exclude(pk=category.pk).exists():
        raise _error("name", "A category of that name exists already here", "duplicate")
    return changed


def kb_category_create(*, actor: User, **fields) -> KbCategory:
    """A new category (managers and administrators); positions default to the end."""
    require_kb_category_admin(actor)
    category = KbCategory()
    _category_fields(category, fields)
    if "position" not in fields:
        last = KbCategory.objects.filter(parent=category.parent).order_by("-position").first()
        category.position = (last.position + 1) if last else 0
    category.save()
    return category


def kb_category_update(*, category: KbCategory, actor: User, **fields) -> KbCategory:
    require_kb_category_admin(actor)
    changed = _category_fields(category, fields)
    if changed:
        category.save(update_fields=changed)
    return category


def kb_category_delete(*, category: KbCategory, actor: User) -> None:
    """Only an empty category goes (its articles would lose their shelf)."""
    require_kb_category_admin(actor)
    if category.articles.exists() or category.children.exists():
        raise Conflict(
            "The category still holds articles or sub-categories: move them first",
            code="category_in_use",
        )
    category.delete()


# ----- articles ----------------------------------------------------------------------------


def _clean_text(title: str, body: str, change_note: str) -> tuple[str, str, str]:
    title = (title or "").strip()
    if not title:
        raise _error("title", "An article needs a title", "required")
    if len(title) > MAX_TITLE:
        raise _error("title", f"At most {MAX_TITLE} characters", "too_long")
    body = (body or "").replace("\r\n", "\n")
    if len(body) > MAX_BODY:
        raise _error("body", f"At most {MAX_BODY:,} characters", "too_long")
    change_note = (change_note or "").strip()
    if len(change_note) > MAX_NOTE:
        raise _error("change_note", f"At most {MAX_NOTE} characters", "too_long")
    return title, body, change_note


def _check_choice(field: str, value: str, choices) -> None:
    if value not in choices.values:
        raise _error(field, f"Must be one of {', '.join(choices.values)}", "invalid_choice")


def _unique_slug(title: str) -> str:
    base = slugify(title)[:200] or "article"
    slug, n = base, 2
    while Article.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _add_version(article: Article, *, title: str, body: str, note: str, actor: User) -> None:
    last = article.versions.order_by("-number").values_list("number", flat=True).first() or 0
    version = ArticleVersion.objects.create(
        article=article, number=last + 1, title=title, body=body, change_note=note, author=actor
    )
    article.title, article.body, article.current_version = title, body, version


def article_create(
    *,
    actor: User,
    title: str,
    body: str = "",
    category: KbCategory | None = None,
    visibility: str = ArticleVisibility.INTERNAL,
    status: str = ArticleStatus.DRAFT,
    change_note: str = "",
) -> Article:
    """A new article with its first version."""
    require_kb_writer(actor)
    title, body, change_note = _clean_text(title, body, change_note)
    _check_choice("visibility", visibility, ArticleVisibility)
    _check_choice("status", status, ArticleStatus)
    with transaction.atomic():
        article = Article.objects.create(
            title=title,
            body=body,
            slug=_unique_slug(title),
            category=category,
            visibility=visibility,
            status=status,
            author=actor,
            published_at=timezone.now() if status == ArticleStatus.PUBLISHED else None,
        )
        _add_version(article, title=title, body=body, note=change_note or "Created", actor=actor)
        article.save(update_fields=["current_version"])
    return article


def article_update(
    *,
    article: Article,
    actor: User,
    title: str | None = None,
    body: str | None = None,
    change_note: str = "",
    category: KbCategory | None = UNSET,
    visibility: str | None = None,
    status: str | None = None,
    base_version: int | None = None,
) -> Article:
    """Change an article; a changed title or body becomes a new version. `base_version`: the
    version number the editor started from; if someone saved since, StaleVersion."""
    require_kb_writer(actor)
    with transaction.atomic():
        article = Article.objects.select_for_update().get(pk=article.pk)
        current = article.current_version.number if article.current_version_id else 0
        if base_version is not None and base_version != current:
            raise StaleVersion(current)
        new_title = article.title if title is None else title
        new_body = article.body if body is None else body
        new_title, new_body, change_note = _clean_text(new_title, new_body, change_note)
        changed: list[str] = []
        if new_title != article.title or new_body != article.body:
            _add_version(article, title=new_title, body=new_body, note=change_note, actor=actor)
            changed += ["title", "body", "current_version"]
        if category is not UNSET and category != article.category:
            article.category = category
            changed.append("category")
        if visibility is not None and visibility != article.visibility:
            _check_choice("visibility", visibility, ArticleVisibility)
            article.visibility = visibility
            changed.append("visibility")
        if status is not None and status != article.status:
            _check_choice("status", status, ArticleStatus)
            article.status = status
            changed.append("status")
            if status == ArticleStatus.PUBLISHED and article.published_at is None:
                article.published_at = timezone.now()
                changed.append("published_at")
        if changed:
            article.save(update_fields=[*changed, "updated_at"])
    return article


def article_restore_version(*, article: Article, number: int, actor: User) -> Article:
    """Make an earlier version's text current again, as a new version (history stays)."""
    require_kb_writer(actor)
    version = article.versions.filter(number=number).first()
    if version is None:
        raise _error("number", f"The article has no version {number}", "not_found")
    return article_update(
        article=article,
        actor=actor,
        title=version.title,
        body=version.body,
        change_note=f"Restored version {number}",
    )


def article_delete(*, article: Article, actor: User) -> None:
    """Delete an article never used on a case (one that was is archived instead)."""
    require_kb_writer(actor)
    if ArticleCaseUse.objects.filter(article=article).exists():
        raise Conflict(
            "The article was used on cases; archive it instead of deleting it",
            code="article_in_use",
        )
    article.delete()


def article_record_view(*, article: Article) -> None:
    """Count a reading of the article (no version, no timestamp change)."""
    Article.objects.filter(pk=article.pk).update(view_count=F("view_count") + 1)


# ----- votes -------------------------------------------------------------------------------


def session_voter_key(session_key: str) -> str:
    """An anonymous voter's key: a hash of the session, never the session key itself."""
    return "session:" + hashlib.sha256(session_key.encode()).hexdigest()[:64]


def article_vote(
    *,
    article: Article,
    helpful: bool,
    comment: str = "",
    user: User | None = None,
    contact=None,
    session_key: str | None = None,
) -> ArticleVote:
    """Record or change the voter's one vote on a published article and keep the article's
    helpful / not-helpful counts equal to its votes."""
    if article.status != ArticleStatus.PUBLISHED:
        raise Conflict("Only published articles take votes", code="article_not_published")
    if not isinstance(helpful, bool):
        raise _error("helpful", "Must be true or false", "invalid")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise _error("comment", f"At most {MAX_COMMENT} characters", "too_long")
    if user is not None:
        key = f"user:{user.pk}"
    elif contact is not None:
        key = f"contact:{contact.pk}"
    elif session_key:
        key = session_voter_key(session_key)
    else:
        raise PermissionDenied("A vote needs a voter", code="no_voter")
    with transaction.atomic():
        Article.objects.select_for_update().filter(pk=article.pk).first()
        vote = ArticleVote.objects.filter(article=article, voter_key=key).first()
        delta = {"helpful_count": 0, "not_helpful_count": 0}
        if vote is None:
            vote = ArticleVote.objects.create(
                article=article,
                voter_key=key,
                user=user,
                contact=contact,
                helpful=helpful,
                comment=comment,
            )
            delta["helpful_count" if helpful else "not_helpful_count"] += 1
        else:
            if vote.helpful != helpful:
                delta["helpful_count" if helpful else "not_helpful_count"] += 1
                delta["not_helpful_count" if helpful else "helpful_count"] -= 1
            vote.helpful, vote.comment = helpful, comment or vote.comment
            vote.save(update_fields=["helpful", "comment", "updated_at"])
        if any(delta.values()):
            Article.objects.filter(pk=article.pk).update(
                **{name: F(name) + change for name, change in delta.items() if change}
            )
    article.refresh_from_db(fields=["helpful_count", "not_helpful_count"])
    return vote


# ----- usage on cases ----------------------------------------------------------------------


def article_used_in_case(*, article: Article, case, actor: User) -> ArticleCaseUse:
    """Record that `actor` used the published `article` on `case` (once per case; a later
    use refreshes the time). The caller has checked that `actor` sees both."""
    require_writer(actor)
    if article.status != ArticleStatus.PUBLISHED:
        raise Conflict("Only published articles can be used on cases", code="article_not_published")
    now = timezone.now()
    try:
        with transaction.atomic():
            use, created = ArticleCaseUse.objects.get_or_create(
                article=article, case=case, defaults={"used_by": actor, "used_at": now}
            )
    except IntegrityError:  # a concurrent first use of the same pair
        use, created = ArticleCaseUse.objects.get(article=article, case=case), False
    if not created:
        use.used_by, use.used_at = actor, now
        use.save(update_fields=["used_by", "used_at"])
    return use
