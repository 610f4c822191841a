"""The REST API: one NinjaAPI with every domain's router mounted under /api/."""

import orjson
from ninja import NinjaAPI
from ninja.errors import ValidationError
from ninja.parser import Parser
from ninja.renderers import BaseRenderer

from rapport.api.auth import api_auth
from rapport.api.errors import install_error_handlers
from rapport.api.operations import json_bodies_only, one_transaction


class ORJSONRenderer(BaseRenderer):
    media_type = "application/json"

    def render(self, request, data, *, response_status):
        return orjson.dumps(data, default=str, option=orjson.OPT_NON_STR_KEYS)


class ObjectBodyParser(Parser):
    """JSON bodies must be objects: a list or a scalar is refused before any schema sees it."""

    def parse_body(self, request):
        data = orjson.loads(request.body)
        if not isinstance(data, dict):
            raise ValidationError(
                [
                    {
                        "loc": ("body",),
                        "msg": "The body must be a JSON object",
                        "type": "invalid_body",
                    }
                ]
            )
        return data


_ERROR_STATUSES = {
    "400": "Bad request (malformed cursor, header or body)",
    "401": "Not authenticated",
    "403": "Not allowed",
    "404": "Not found (or not visible to you)",
    "409": "Conflict with the current state",
    "412": "Stale version in If-Match",
    "415": "The body is not application/json",
    "422": "Validation error",
    "429": "Rate limited",
}


class RapportAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        """Document the common error shape on every operation, so that every answer a client
        can get is in the schema."""
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema["components"].setdefault("schemas", {})["Error"] = {
            "type": "object",
            "title": "Error",
            "required": ["detail", "code"],
            "properties": {
                "detail": {"type": "string"},
                "code": {"type": "string"},
                "field": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "errors": {"type": "array", "items": {"type": "object"}},
            },
        }
        ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        for methods in schema["paths"].values():
            for operation in methods.values():
                responses = operation.setdefault("responses", {})
                for status, text in _ERROR_STATUSES.items():
                    responses.setdefault(status, {"description": text, **ref})
        return schema


api = RapportAPI(
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
    parser=ObjectBodyParser(),
    urls_namespace="api",
)
install_error_handlers(api)
api.add_decorator(json_bodies_only, mode="view")
api.add_decorator(one_transaction, mode="operation")


def _mount() -> None:
    from rapport.accounts.api import accounts_router, contacts_router
    from rapport.activities.api import router as activities_router
    from rapport.analytics.api import router as analytics_router
    from rapport.duplicates.api import router as duplicates_router
    from rapport.identity.api import router as identity_router
    from rapport.imports.api import exports_router
    from rapport.imports.api import router as imports_router
    from rapport.leads.api import router as leads_router
    from rapport.orders.api import router as orders_router
    from rapport.records.api import router as records_router
    from rapport.sales.api import router as sales_router
    from rapport.search.api import router as search_router

    api.add_router("/", identity_router)
    api.add_router("/", records_router)
    api.add_router("/accounts", accounts_router)
    api.add_router("/contacts", contacts_router)
    api.add_router("/leads", leads_router)
    api.add_router("/", sales_router)
    api.add_router("/orders", orders_router)
    api.add_router("/activities", activities_router)
    api.add_router("/analytics", analytics_router)
    api.add_router("/search", search_router)
    api.add_router("/duplicates", duplicates_router)
    api.add_router("/imports", imports_router)
    api.add_router("/exports", exports_router)


_mount()
