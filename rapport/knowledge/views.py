"""Knowledge-base pages: home (categories, most helpful, recently updated, search), the
article page (rendered text, votes, history), the editor with a live preview, category
admin, and the case page's suggestion panel. Thin: selectors read, services write."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from rapport.knowledge import selectors, services
from rapport.knowledge.forms import ArticleForm, CategoryForm
from rapport.knowledge.models import ArticleStatus
from rapport.knowledge.rendering import plain_excerpt, render_markdown
from rapport.records.exceptions import Conflict, PermissionDenied, StaleVersion
from rapport.web.decorators import allowed_by, ui_view
from rapport.web.forms import add_service_errors
from rapport.web.fragments import render_fragment

SEARCH_LIMIT = 50
HISTORY_LIMIT = 50


def _common(request) -> dict:
    return {
        "can_edit_articles": services.can_edit_articles(request.user),
        "can_arrange": _can_arrange(request.user),
    }


def _can_arrange(user) -> bool:
    try:
        services.require_kb_category_admin(user)
    except PermissionDenied:
        return False
    return True


@ui_view
def kb_home(request):
    """Categories, the most helpful and recently updated articles; with `q` or `category`,
    the matching articles instead."""
    q = (request.GET.get("q") or "").strip()[:200]
    category_id = request.GET.get("category") or ""
    category_id = int(category_id) if category_id.isdigit() else None
    categories = selectors.kb_categories(user=request.user)
    context = {**_common(request), "q": q, "categories": categories}
    if q or category_id:
        results = selectors.article_list(user=request.user, q=q, category_id=category_id)
        if not q:
            results = results.order_by("title", "id")
        results = list(results[: SEARCH_LIMIT + 1])
        for article in results:
            article.excerpt = plain_excerpt(article.body)
        context.update(
            results=results[:SEARCH_LIMIT],
            more=len(results) > SEARCH_LIMIT,
            category=next((c for c in categories if c.pk == category_id), None),
            searching=True,
        )
    else:
        context.update(
            most_helpful=selectors.articles_most_helpful(user=request.user),
            recent=selectors.articles_recently_updated(user=request.user),
        )
    return render(request, "knowledge/home.html", context)


@ui_view
def article_detail(request, pk: int):
    article = selectors.article_get_for_user(user=request.user, pk=pk)
    services.article_record_view(article=article)
    versions = list(selectors.article_versions(article=article)[:HISTORY_LIMIT])
    vote = article.votes.filter(voter_key=f"user:{request.user.pk}").first()
    return render(
        request,
        "knowledge/article.html",
        {
            **_common(request),
            "article": article,
            "body_html": render_markdown(article.body),
            "versions": versions,
            "vote": vote,
        },
    )


@ui_view
def article_version(request, pk: int, number: int):
    article = selectors.article_get_for_user(user=request.user, pk=pk)
    version = selectors.article_version_get(article=article, number=number)
    return render(
        request,
        "knowledge/version.html",
        {
            **_common(request),
            "article": article,
            "version": version,
            "body_html": render_markdown(version.body),
        },
    )


@ui_view
@require_POST
def article_restore(request, pk: int, number: int):
    article = selectors.article_get_for_user(user=request.user, pk=pk)
    selectors.article_version_get(article=article, number=number)
    services.article_restore_version(article=article, number=number, actor=request.user)
    messages.success(request, f"Version {number} restored as the current text.")
    return HttpResponseRedirect(reverse("knowledge:article", args=[pk]))


def _editor(request, article=None):
    if request.method == "POST":
        form = ArticleForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if article is None:
                    article = services.article_create(
                        actor=request.user,
                        title=data["title"],
                        body=data["body"],
                        category=data["category"],
                        visibility=data["visibility"],
                        status=data["status"],
                        change_note=data["change_note"],
                    )
                    messages.success(request, "Article created.")
                else:
                    services.article_update(
                        article=article,
                        actor=request.user,
                        title=data["title"],
                        body=data["body"],
                        category=data["category"],
                        visibility=data["visibility"],
                        status=data["status"],
                        change_note=data["change_note"],
                        base_version=data["base_version"],
                    )
                    messages.success(request, "Article saved.")
                return HttpResponseRedirect(reverse("knowledge:article", args=[article.pk]))
            except (ValidationError, Conflict) as exc:
                add_service_errors(form, exc)
            except StaleVersion as exc:
                form.add_error(
                    None,
                    f"Someone saved this article while you were editing (now version "
                    f"{exc.current_version}). Copy your text, reload, and apply it again.",
                )
        status = 422
    else:
        status = 200
        if article is None:
            form = ArticleForm(initial={"visibility": "internal", "status": ArticleStatus.DRAFT})
        else:
            form = ArticleForm(
                initial={
                    "title": article.title,
                    "category": article.category,
                    "visibility": article.visibility,
                    "status": article.status,
                    "body": article.body,
                    "base_version": article.current_version.number
                    if article.current_version_id
                    else None,
                }
            )
    return render(
        request,
        "knowledge/editor.html",
        {**_common(request), "form": form, "article": article},
        status=status,
    )


@ui_view
@allowed_by(services.require_kb_writer)
def article_create(request):
    return _editor(request)


@ui_view
@allowed_by(services.require_kb_writer)
def article_edit(request, pk: int):
    return _editor(request, selectors.article_get_for_user(user=request.user, pk=pk))


@ui_view
@require_POST
def article_preview(request):
    """The editor's preview: the Markdown as it will show, sanitised."""
    html = render_markdown(request.POST.get("body", "")[: services.MAX_BODY])
    return render_fragment(request, "knowledge/_preview.html", {"body_html": html})


@ui_view
@require_POST
def article_vote(request, pk: int):
    article = selectors.article_get_for_user(user=request.user, pk=pk)
    helpful = request.POST.get("helpful")
    if helpful not in ("yes", "no"):
        return HttpResponse("helpful must be yes or no", status=400)
    vote = services.article_vote(article=article, helpful=helpful == "yes", user=request.user)
    messages.success(request, "Thanks for the feedback.")
    return render_fragment(request, "knowledge/_votes.html", {"article": article, "vote": vote})


# ----- categories --------------------------------------------------------------------------


@ui_view
@allowed_by(services.require_kb_category_admin)
def categories(request):
    """Category admin: the list with an edit form per row, and a form for a new one."""
    new_form = CategoryForm(prefix="new")
    status = 200
    if request.method == "POST":
        new_form = CategoryForm(request.POST, prefix="new")
        if new_form.is_valid():
            data = {k: v for k, v in new_form.cleaned_data.items() if v is not None}
            try:
                services.kb_category_create(actor=request.user, **data)
                messages.success(request, f"Category “{data['name']}” added.")
                return HttpResponseRedirect(reverse("knowledge:categories"))
            except ValidationError as exc:
                add_service_errors(new_form, exc, {"parent_id": "parent"})
        status = 422
    rows = [
        (c, CategoryForm(prefix=f"c{c.pk}", initial=_category_initial(c)))
        for c in selectors.kb_categories(user=request.user)
    ]
    return render(
        request,
        "knowledge/categories.html",
        {**_common(request), "new_form": new_form, "rows": rows},
        status=status,
    )


def _category_initial(category) -> dict:
    return {
        "name": category.name,
        "description": category.description,
        "parent": category.parent_id,
        "case_category": category.case_category_id,
        "position": category.position,
    }


@ui_view
@allowed_by(services.require_kb_category_admin)
@require_POST
def category_update(request, pk: int):
    category = selectors.kb_category_get(pk=pk)
    form = CategoryForm(request.POST, prefix=f"c{pk}")
    if form.is_valid():
        data = dict(form.cleaned_data)
        if data["position"] is None:
            data.pop("position")
        try:
            services.kb_category_update(category=category, actor=request.user, **data)
            messages.success(request, "Category saved.")
        except ValidationError as exc:
            for errors in exc.message_dict.values():
                messages.error(request, f"{category.name}: {' '.join(errors)}")
    else:
        for field, errors in form.errors.items():
            messages.error(request, f"{category.name} – {field}: {' '.join(errors)}")
    return HttpResponseRedirect(reverse("knowledge:categories"))


@ui_view
@allowed_by(services.require_kb_category_admin)
@require_POST
def category_delete(request, pk: int):
    category = selectors.kb_category_get(pk=pk)
    services.kb_category_delete(category=category, actor=request.user)
    messages.success(request, f"Category “{category.name}” deleted.")
    return HttpResponseRedirect(reverse("knowledge:categories"))


# ----- the case page's panel ---------------------------------------------------------------


@ui_view
def case_suggestions(request, case_id: int):
    """The articles suggested for a case (htmx partial for the case page)."""
    case = selectors.case_get_for_user(user=request.user, case_id=case_id)
    articles = selectors.articles_suggested_for_case(case=case, user=request.user)
    for article in articles:
        article.excerpt = plain_excerpt(article.body, 140)
    return render_fragment(
        request,
        "knowledge/_case_suggestions.html",
        {"case": case, "articles": articles, "can_use": services.can_edit_articles(request.user)},
    )


@ui_view
@require_POST
def case_use(request, pk: int, case_id: int):
    """Record that the article went into a reply on the case (the insert button posts it)."""
    article = selectors.article_get_for_user(user=request.user, pk=pk)
    case = selectors.case_get_for_user(user=request.user, case_id=case_id)
    services.article_used_in_case(article=article, case=case, actor=request.user)
    return HttpResponse(status=204)
