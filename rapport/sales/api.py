"""REST endpoints for sales (being built)."""

from ninja import Router

router = Router(tags=["sales"])
