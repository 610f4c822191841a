"""Pages of leads (namespace "leads")."""

from django.urls import path

from rapport.leads import views
from rapport.web.routing import object_urls

app_name = "leads"

urlpatterns = [
    *object_urls(
        "leads",
        "lead",
        lists=views.lead_list_views,
        pages=views.lead_page_views,
        create=views.lead_create,
        edit=views.lead_edit,
        delete=views.lead_delete,
    ),
    path("leads/<int:pk>/convert", views.lead_convert, name="lead_convert"),
]
