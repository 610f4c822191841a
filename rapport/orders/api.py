"""REST endpoints for orders (being built)."""

from ninja import Router

router = Router(tags=["orders"])
