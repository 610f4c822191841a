from django.urls import path

from rapport.portal import staff_views, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login, name="login"),
    path("login/<str:token>/", views.magic, name="magic"),
    path("logout/", views.logout, name="logout"),
    path("cases/new/", views.case_new, name="case_new"),
    path("cases/<int:pk>/", views.case_detail, name="case_detail"),
    path("cases/<int:pk>/reply", views.case_reply, name="case_reply"),
    path("cases/<int:pk>/close", views.case_close, name="case_close"),
    path("cases/<int:pk>/files/<int:file_id>", views.case_file, name="case_file"),
    path("orders/", views.orders, name="orders"),
    path("orders/<int:pk>/", views.order_detail, name="order_detail"),
    path("products/", views.products, name="products"),
    path("returns/", views.returns, name="returns"),
    path("returns/new/", views.return_new, name="return_new"),
    path("help/", views.help_index, name="help"),
    path("help/<slug:slug>/", views.help_article, name="article"),
    path("preferences/", views.preferences, name="preferences"),
]

# Staff pages that manage portal access (mounted at /portal-admin/, staff session).
staff_patterns = [
    path("", staff_views.portal_users, name="users"),
    path("invite/<int:contact_id>", staff_views.invite, name="invite"),
    path("users/<int:pk>/revoke", staff_views.revoke, name="revoke"),
    path("accounts/<int:account_id>/setting", staff_views.account_setting, name="account_setting"),
]
