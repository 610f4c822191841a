from django.urls import path

from rapport.notifications import views

app_name = "notifications"

urlpatterns = [
    path("notifications/", views.notification_list, name="list"),
    path("notifications/bell", views.bell, name="bell"),
    path("notifications/mentions", views.mention_suggest, name="mention_suggest"),
    path("notifications/read-all", views.notification_read_all, name="read_all"),
    path("notifications/settings", views.preferences, name="preferences"),
    path("notifications/<int:pk>/open", views.notification_open, name="open"),
    path("notifications/<int:pk>/read", views.notification_read, name="read"),
]
