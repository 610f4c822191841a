"""Field-service pages (namespace "fieldservice", /field/…), the calendar feeds
(namespace "feeds", /feeds/…) and the vCard exports."""

from django.urls import include, path

from rapport.fieldservice import views

field_patterns = [
    path("field/", views.workorder_list, name="workorder_list"),
    path("field/today", views.technician_day, name="day"),
    path("field/work-orders/new", views.workorder_create, name="workorder_create"),
    path("field/work-orders/<int:pk>/", views.workorder_detail, name="workorder_detail"),
    path("field/work-orders/<int:pk>/edit", views.workorder_edit, name="workorder_edit"),
    path("field/work-orders/<int:pk>/status", views.workorder_status, name="workorder_status"),
    path("field/work-orders/<int:pk>/tasks", views.workorder_task_add, name="workorder_task_add"),
    path(
        "field/work-orders/<int:pk>/tasks/<int:task_id>",
        views.workorder_task_toggle,
        name="workorder_task_toggle",
    ),
    path("field/work-orders/<int:pk>/parts", views.workorder_part_add, name="workorder_part_add"),
    path(
        "field/work-orders/<int:pk>/photos", views.workorder_photo_add, name="workorder_photo_add"
    ),
    path("field/work-orders/<int:pk>/signature", views.workorder_sign, name="workorder_sign"),
    path(
        "field/work-orders/<int:pk>/files/<int:file_id>",
        views.workorder_file,
        name="workorder_file",
    ),
    path("contacts/<int:pk>/vcard.vcf", views.contact_vcard, name="contact_vcard"),
    path("contacts/vcards.vcf", views.contacts_vcards, name="contacts_vcards"),
]

feed_patterns = [
    path("feeds/", views.feed_settings, name="settings"),
    path(
        "feeds/<slug:kind>/<str:token>.ics",
        views.calendar_feed,
        name="calendar",
    ),
]


urlpatterns = [
    path("", include((field_patterns, "fieldservice"))),
    path("", include((feed_patterns, "feeds"))),
]
