"""The knowledge base: articles in categories, every edit of their text kept as a version.

An article carries its current title and body on its own row (a copy of its newest
version) so that the search service indexes one table (rapport/search/indexes.py: the
SQLite FTS5 triggers and the PostgreSQL trigram index both read `knowledge_article`).
Articles are not owned records: every staff user reads the published ones; writers edit.
"""

from django.conf import settings
from django.db import models


class KbCategory(models.Model):
    """A shelf of articles; a category with a parent is a sub-category."""

    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # Suggestions on a case rank articles of the category matching the case's category higher.
    case_category = models.ForeignKey(
        "cases.CaseCategory", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name", "id"]
        verbose_name_plural = "knowledge categories"
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="kb_category_unique_name"),
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(parent=None), name="kb_category_unique_top"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.parent} › {self.name}" if self.parent_id else self.name


class ArticleVisibility(models.TextChoices):
    INTERNAL = "internal", "Internal (staff only)"
    PUBLIC = "public", "Public (customers too)"


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class Article(models.Model):
    title = models.CharField(max_length=200)  # the current version's
    body = models.TextField(blank=True)  # the current version's (Markdown)
    slug = models.SlugField(max_length=220, unique=True)
    category = models.ForeignKey(
        KbCategory, null=True, blank=True, on_delete=models.PROTECT, related_name="articles"
    )
    visibility = models.CharField(
        max_length=10, choices=ArticleVisibility.choices, default=ArticleVisibility.INTERNAL
    )
    status = models.CharField(
        max_length=10, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT
    )
    current_version = models.ForeignKey(
        "ArticleVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    helpful_count = models.PositiveIntegerField(default=0)
    not_helpful_count = models.PositiveIntegerField(default=0)
    view_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["title", "id"]
        indexes = [
            models.Index(fields=["status", "-updated_at", "id"]),
            models.Index(fields=["status", "-helpful_count", "id"]),
            models.Index(fields=["category", "status", "title"]),
        ]

    def __str__(self) -> str:
        return self.title


class ArticleVersion(models.Model):
    """One saved state of an article's text; never changed once written."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    change_note = models.CharField(max_length=300, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["article", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["article", "number"], name="kb_version_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.article_id} v{self.number}"


class ArticleVote(models.Model):
    """ "Was this helpful?": one vote per voter and article, changeable. The voter is a
    staff user, a portal contact or an anonymous session (a hash, never the session key)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="votes")
    voter_key = models.CharField(max_length=80)  # "user:<id>", "contact:<id>", "session:<sha256>"
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    contact = models.ForeignKey(
        "accounts.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    helpful = models.BooleanField()
    comment = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["article", "-updated_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["article", "voter_key"], name="kb_vote_one_per_voter")
        ]


class ArticleCaseUse(models.Model):
    """An agent used the article on a case (inserted it into a reply); once per case."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="case_uses")
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    used_at = models.DateTimeField()

    class Meta:
        ordering = ["article", "-used_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["article", "case"], name="kb_use_once_per_case")
        ]
        indexes = [models.Index(fields=["case", "article"])]
