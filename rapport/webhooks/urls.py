from django.urls import path

from rapport.webhooks.views import inbound_hook

urlpatterns = [
    path("hooks/in/<str:token>", inbound_hook, name="inbound_hook"),
]
