"""Pages of the knowledge base (namespace "knowledge", under /knowledge/)."""

from django.urls import path

from rapport.knowledge import views

app_name = "knowledge"

urlpatterns = [
    path("", views.kb_home, name="home"),
    path("articles/new/", views.article_create, name="article_create"),
    path("articles/<int:pk>/", views.article_detail, name="article"),
    path("articles/<int:pk>/edit/", views.article_edit, name="article_edit"),
    path("articles/<int:pk>/vote/", views.article_vote, name="article_vote"),
    path("articles/<int:pk>/versions/<int:number>/", views.article_version, name="version"),
    path(
        "articles/<int:pk>/versions/<int:number>/restore/",
        views.article_restore,
        name="version_restore",
    ),
    path("articles/<int:pk>/use/<int:case_id>/", views.case_use, name="case_use"),
    path("preview/", views.article_preview, name="preview"),
    path("categories/", views.categories, name="categories"),
    path("categories/<int:pk>/", views.category_update, name="category_update"),
    path("categories/<int:pk>/delete/", views.category_delete, name="category_delete"),
    path("suggest/case/<int:case_id>/", views.case_suggestions, name="case_suggestions"),
]
