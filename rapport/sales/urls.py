"""Pages of opportunities and the pipeline board (namespace "sales")."""

from django.urls import path

from rapport.sales import board_views, line_item_views, views
from rapport.web.routing import object_urls

app_name = "sales"

urlpatterns = [
    path("opportunities/board", board_views.board, name="opportunity_board"),
    path(
        "opportunities/board/stages/<int:stage_id>/cards",
        board_views.board_cards,
        name="opportunity_board_cards",
    ),
    *object_urls(
        "opportunities",
        "opportunity",
        lists=views.opportunity_list_views,
        pages=views.opportunity_page_views,
        create=views.opportunity_create,
        edit=views.opportunity_edit,
        delete=views.opportunity_delete,
    ),
    path("opportunities/<int:pk>/move", views.opportunity_move, name="opportunity_move"),
    path(
        "opportunities/<int:pk>/line-items/add", line_item_views.line_item_add, name="line_item_add"
    ),
    path(
        "opportunities/<int:pk>/line-items/<int:item_id>/edit",
        line_item_views.line_item_edit,
        name="line_item_edit",
    ),
    path(
        "opportunities/<int:pk>/line-items/<int:item_id>/remove",
        line_item_views.line_item_remove,
        name="line_item_remove",
    ),
]
