"""Mail pages (namespace "mail", under /mail/)."""

from django.urls import path

from rapport.mail import views

app_name = "mail"

urlpatterns = [
    path("mailboxes/", views.mailboxes, name="mailboxes"),
    path("mailboxes/new", views.mailbox_new, name="mailbox_new"),
    path("mailboxes/<int:pk>/", views.mailbox_edit, name="mailbox"),
    path("mailboxes/<int:pk>/test", views.mailbox_test, name="mailbox_test"),
    path("mailboxes/<int:pk>/sync", views.mailbox_sync, name="mailbox_sync"),
    path("templates/", views.templates, name="templates"),
    path("templates/new", views.template_new, name="template_new"),
    path("templates/<int:pk>/", views.template_edit, name="template"),
    path("templates/preview", views.template_preview, name="template_preview"),
]
