"""Pages of orders (namespace "orders")."""

from django.urls import path

from rapport.orders import perfect_views, views
from rapport.records.services import require_writer
from rapport.web.decorators import allowed_by

app_name = "orders"

urlpatterns = [
    path("orders/", views.order_list_view, name="order_list"),
    path("orders/export.csv", views.order_export_view, name="order_export"),
    path("orders/bulk", views.order_bulk_view, name="order_bulk"),
    path("orders/new", allowed_by(require_writer)(views.order_create_view), name="order_create"),
    path("orders/<int:pk>/", views.order_detail, name="order_detail"),
    path("orders/<int:pk>/edit", views.order_edit, name="order_edit"),
    path("orders/<int:pk>/status", views.order_status, name="order_status"),
    path("orders/<int:pk>/delete", views.order_delete_view, name="order_delete"),
    path("analytics/perfect-order/", perfect_views.perfect_order, name="perfect_order"),
]
