"""Pages of received and sent mail (namespace "mail_threads")."""

from django.urls import path

from rapport.mail import thread_views as views

app_name = "mail_threads"

urlpatterns = [
    path("mail/threads/<int:pk>/", views.thread_detail, name="thread"),
    path("mail/messages/<int:pk>/move", views.message_move_view, name="move"),
    path("mail/messages/<int:pk>/raw", views.message_raw, name="raw"),
    path("mail/attachments/<int:pk>", views.attachment_download, name="attachment"),
    path("mail/emails/<slug:object_type>/<int:pk>", views.record_emails, name="record_emails"),
    path("mail/unfiled/", views.unfiled, name="unfiled"),
]
