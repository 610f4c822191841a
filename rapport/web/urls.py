from django.urls import include, path

from rapport.web import auth_views, share_views, views

# The shell's pages live in the "web" namespace; each object's pages keep their own app's
# namespace ("accounts:account_list", later "leads:lead_list" …) and are included below.
shell_patterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("search", views.search, name="search"),
    path("search/suggest", views.search_suggest, name="search_suggest"),
    path("pick/<slug:object_type>", views.picker_options, name="picker_options"),
    path("home/tasks/<int:pk>/complete", views.task_complete, name="task_complete"),
    path("home/tasks/<int:pk>/reopen", views.task_reopen, name="task_reopen"),
    path("home/tasks/count", views.task_stat, name="task_stat"),
    path(
        "records/<slug:object_type>/<int:pk>/access",
        share_views.record_access,
        name="record_access",
    ),
    path(
        "records/<slug:object_type>/<int:pk>/shares",
        share_views.record_share_add,
        name="record_share_add",
    ),
    path(
        "records/<slug:object_type>/<int:pk>/shares/<int:share_id>/remove",
        share_views.record_share_remove,
        name="record_share_remove",
    ),
    path(
        "records/<slug:object_type>/<int:pk>/owner",
        share_views.record_owner_transfer,
        name="record_owner_transfer",
    ),
    path("views/save", views.saved_view_save, name="saved_view_save"),
    path("views/<int:pk>/delete", views.saved_view_remove, name="saved_view_delete"),
    path("login/", auth_views.login, name="login"),
    path("logout/", auth_views.logout, name="logout"),
    path("password-reset/", auth_views.password_reset, name="password_reset"),
    path("password-reset/sent/", auth_views.password_reset_done, name="password_reset_done"),
    path(
        "reset/<uidb64>/<token>/", auth_views.password_reset_confirm, name="password_reset_confirm"
    ),
    path("reset/done/", auth_views.password_reset_complete, name="password_reset_complete"),
    path("me/password/", auth_views.password_change, name="password_change"),
    path("me/tokens/", auth_views.api_tokens, name="api_tokens"),
    path("me/tokens/<int:pk>/revoke", auth_views.api_token_revoke_view, name="api_token_revoke"),
]

urlpatterns = [
    path("", include((shell_patterns, "web"))),
    path("", include("rapport.accounts.urls")),
    path("", include("rapport.activities.urls")),
    path("", include("rapport.notifications.urls")),
    path("", include("rapport.orders.urls")),
    path("", include("rapport.sales.catalog_urls")),
    path("settings/", include("rapport.web.settings_urls")),
    path("", include("rapport.leads.urls")),
    path("", include("rapport.sales.urls")),
    path("", include("rapport.imports.urls")),
    path("", include("rapport.analytics.urls")),
    path("", include("rapport.duplicates.urls")),
    path("", include("rapport.mail.thread_urls")),
    path("", include("rapport.files.urls")),
    path("", include("rapport.segments.urls")),
    path("", include("rapport.territories.urls")),
    path("", include("rapport.scoring.urls")),
]
