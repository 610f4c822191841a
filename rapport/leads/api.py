"""REST endpoints for leads (being built)."""

from ninja import Router

router = Router(tags=["leads"])
