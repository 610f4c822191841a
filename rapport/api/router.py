"""The REST API: one NinjaAPI with every domain's router mounted under /api/."""

import orjson
from ninja import NinjaAPI
from ninja.renderers import BaseRenderer

from rapport.api.auth import api_auth
from rapport.api.errors import install_error_handlers


class ORJSONRenderer(BaseRenderer):
    media_type = "application/json"

    def render(self, request, data, *, response_status):
        return orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS)


api = NinjaAPI(
    title="Rapport API",
    version="1",
    description=(
        "Rapport's REST API. Authenticate with `Authorization: Bearer <token>` (create a personal "
        "token in the UI or with POST /api/me/tokens) or a browser session. Lists use cursor "
        "pagination (`cursor`, `limit` ≤ 200) and a count capped at 10000. Updates accept "
        '`If-Match: "<version>"`; POSTs accept `Idempotency-Key`. Errors are '
        '`{"detail", "code", "field"}`.'
    ),
    auth=api_auth,
    renderer=ORJSONRenderer(),
    urls_namespace="api",
)
install_error_handlers(api)


def _mount() -> None:
    from rapport.accounts.api import accounts_router, contacts_router
    from rapport.activities.api import router as activities_router
    from rapport.identity.api import router as identity_router
    from rapport.leads.api import router as leads_router
    from rapport.orders.api import router as orders_router
    from rapport.records.api import router as records_router
    from rapport.sales.api import router as sales_router

    api.add_router("/", identity_router)
    api.add_router("/", records_router)
    api.add_router("/accounts", accounts_router)
    api.add_router("/contacts", contacts_router)
    api.add_router("/leads", leads_router)
    api.add_router("/", sales_router)
    api.add_router("/orders", orders_router)
    api.add_router("/activities", activities_router)


_mount()
