"""Web form pages: staff under /forms/ (namespace "webforms"), the hosted form under /f/
(namespace "webforms_public")."""

from django.urls import path

from rapport.webforms import views

app_name = "webforms"

urlpatterns = [
    path("forms/", views.form_list, name="form_list"),
    path("forms/new", views.form_new, name="form_new"),
    path("forms/<int:pk>/", views.form_detail, name="form_detail"),
    path("forms/<int:pk>/edit", views.form_edit, name="form_edit"),
    path("forms/<int:pk>/delete", views.form_delete, name="form_delete"),
    path("forms/<int:pk>/qr.<str:kind>", views.form_qr, name="form_qr"),
]

public_patterns = [
    path("f/<slug:slug>/", views.public_form, name="form"),
]
