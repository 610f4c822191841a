"""REST endpoints for activities (being built)."""

from ninja import Router

router = Router(tags=["activities"])
