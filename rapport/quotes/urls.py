"""Quote pages (namespace "quotes", under /quotes/) and the public decision page."""

from django.urls import path

from rapport.quotes import views

app_name = "quotes"

urlpatterns = [
    path("", views.quote_list, name="list"),
    path("for/opportunity/<int:pk>/", views.record_quotes, name="record_quotes"),
    path("new/<int:pk>/", views.quote_new, name="new"),
    path("<int:pk>/", views.quote_detail, name="detail"),
    path("<int:pk>/pdf", views.quote_pdf, name="pdf"),
    path("<int:pk>/<str:action>", views.quote_action, name="action"),
]

public_patterns = [
    path("q/<str:token>/", views.decide, name="decide"),
]
