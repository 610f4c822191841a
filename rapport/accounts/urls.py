"""Pages of accounts and contacts (namespace "accounts")."""

from django.urls import path

from rapport.accounts import lifecycle_views, views
from rapport.web.routing import object_urls

app_name = "accounts"

urlpatterns = [
    path("accounts/<int:pk>/close", lifecycle_views.account_close, name="account_close"),
    path("accounts/<int:pk>/reopen", lifecycle_views.account_reopen, name="account_reopen"),
    *object_urls(
        "accounts",
        "account",
        lists=views.account_list_views,
        pages=views.account_page_views,
        create=views.account_create,
        edit=views.account_edit,
        delete=views.account_delete,
    ),
    *object_urls(
        "contacts",
        "contact",
        lists=views.contact_list_views,
        pages=views.contact_page_views,
        create=views.contact_create,
        edit=views.contact_edit,
        delete=views.contact_delete,
    ),
]
