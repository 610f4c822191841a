"""Pages of the product catalogue and price books (namespace "catalog"; the opportunity
pages keep the "sales" namespace)."""

from django.urls import path

from rapport.sales import catalog_views as views

app_name = "catalog"

urlpatterns = [
    path("products/", views.product_list_view, name="product_list"),
    path("products/bulk", views.product_bulk_view, name="product_bulk"),
    path("products/export.csv", views.product_export_view, name="product_export"),
    path("products/new", views.product_create, name="product_create"),
    path("products/<int:pk>/", views.product_detail, name="product_detail"),
    path("products/<int:pk>/edit", views.product_edit, name="product_edit"),
    path("products/<int:pk>/deactivate", views.product_deactivate, name="product_deactivate"),
    path("products/<int:pk>/activate", views.product_activate, name="product_activate"),
    path("products/price-books/", views.price_book_list, name="price_book_list"),
    path("products/price-books/new", views.price_book_create, name="price_book_create"),
    path("products/price-books/<int:pk>/", views.price_book_detail, name="price_book_detail"),
    path("products/price-books/<int:pk>/edit", views.price_book_edit, name="price_book_edit"),
    path("products/price-books/<int:pk>/delete", views.price_book_delete, name="price_book_delete"),
    path(
        "products/price-books/<int:pk>/entries",
        views.price_book_entry_set,
        name="price_book_entry_set",
    ),
    path(
        "products/price-books/<int:pk>/entries/<int:product_id>/delete",
        views.price_book_entry_remove,
        name="price_book_entry_remove",
    ),
]
