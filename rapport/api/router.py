"""The REST API: one NinjaAPI with every domain's router mounted under /api/."""

import orjson
from django.http import HttpResponse
from django.urls import path
from ninja import NinjaAPI
from ninja.errors import ValidationError
from ninja.parser import Parser
from ninja.renderers import BaseRenderer

from rapport.api.auth import api_auth
from rapport.api.errors import install_error_handlers
from rapport.api.operations import json_bodies_only, known_query_params_only, one_transaction


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
    """NinjaAPI with the common error answers documented on every operation and the OpenAPI
    schema built once per process (it takes most of a second and only changes with the code).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._openapi_json: dict[str, bytes] = {}  # path prefix -> rendered schema

    def openapi_json(self, *, path_prefix: str | None = None, path_params=None) -> bytes:
        """The schema as served, rendered once per path prefix."""
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        rendered = self._openapi_json.get(path_prefix)
        if rendered is None:
            schema = super().get_openapi_schema(path_prefix=path_prefix)
            # Like ninja's encoder: what JSON has no type for (a Decimal default) as text.
            rendered = orjson.dumps(_with_error_responses(schema), default=str)
            self._openapi_json[path_prefix] = rendered
        return rendered

    def openapi_cache_clear(self) -> None:
        self._openapi_json.clear()

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        """A fresh dict of the cached schema: a caller changing it cannot change what is
        served."""
        return orjson.loads(self.openapi_json(path_prefix=path_prefix, path_params=path_params))

    def _get_urls(self):
        # ninja's own view rebuilds the schema and re-encodes it on every request.
        urls = super()._get_urls()
        return [
            path(self.openapi_url.lstrip("/"), self._openapi_json_view, name=url.name)
            if getattr(url, "name", None) == "openapi-json"
            else url
            for url in urls
        ]

    def _openapi_json_view(self, request, **path_params):
        return HttpResponse(
            self.openapi_json(path_params=path_params), content_type=self.get_content_type()
        )


def _with_error_responses(schema: dict) -> dict:
    """Document the common error shape on every operation, so that every answer a client can
    get is in the schema. Status codes become strings (ninja keys them by int, which a JSON
    encoder turns into a second "400" key next to ours: a document strict parsers refuse)."""
    from rapport.records.api import ErrorOut

    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if "ErrorOut" not in components:
        components["ErrorOut"] = ErrorOut.model_json_schema()
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
    for methods in schema["paths"].values():
        for operation in methods.values():
            responses: dict[str, dict] = {}
            for status, response in operation.get("responses", {}).items():
                responses.setdefault(str(status), {}).update(response)
            for status, text in _ERROR_STATUSES.items():
                response = responses.setdefault(status, {"content": content})
                response["description"] = text
            operation["responses"] = responses
    return schema


api = RapportAPI(
    title="Rapport API",
    version="1",
    description=(
        "Rapport's REST API. Authenticate with `Authorization: Bearer <token>` (create a personal "
        "token in the UI or with POST /api/me/tokens) or a browser session. Lists use cursor "
        "pagination (`cursor`, `limit` ≤ 200) and a count capped at 10000. Updates accept "
        '`If-Match: "<version>"`; POSTs accept `Idempotency-Key`. Errors are '
        '`{"detail", "code", "field"}`. A GET with a query parameter the operation does not '
        "declare answers 400 `unknown_parameter` naming it (`?owner=` is not `owner_id`)."
    ),
    auth=api_auth,
    renderer=ORJSONRenderer(),
    parser=ObjectBodyParser(),
    urls_namespace="api",
)
install_error_handlers(api)
api.add_decorator(known_query_params_only, mode="view")
api.add_decorator(json_bodies_only, mode="view")
api.add_decorator(one_transaction, mode="operation")


def _mount() -> None:
    from rapport.accounts.api import accounts_router, contacts_router
    from rapport.activities.api import router as activities_router
    from rapport.analytics.api import router as analytics_router
    from rapport.assets.api import router as assets_router
    from rapport.automation.api import router as automation_router
    from rapport.campaigns.api import router as campaigns_router
    from rapport.cases.api import router as cases_router
    from rapport.consent.api import router as consent_router
    from rapport.duplicates.api import router as duplicates_router
    from rapport.fieldservice.api import router as fieldservice_router
    from rapport.files.api import router as files_router
    from rapport.forecasts.api import router as forecasts_router
    from rapport.identity.api import router as identity_router
    from rapport.imports.api import exports_router
    from rapport.imports.api import router as imports_router
    from rapport.knowledge.api import router as knowledge_router
    from rapport.leads.api import router as leads_router
    from rapport.mail.api import router as mail_router
    from rapport.mail.api_threads import router as mail_threads_router
    from rapport.marketing.api import router as marketing_router
    from rapport.notifications.api import router as notifications_router
    from rapport.orders.api import router as orders_router
    from rapport.playbooks.api import router as playbooks_router
    from rapport.quotes.api import router as quotes_router
    from rapport.records.api import router as records_router
    from rapport.returns.api import router as returns_router
    from rapport.sales.api import router as sales_router
    from rapport.scoring.api import router as scoring_router
    from rapport.search.api import router as search_router
    from rapport.segments.api import lifecycle_router
    from rapport.segments.api import router as segments_router
    from rapport.sequences.api import router as sequences_router
    from rapport.sla.api import router as sla_router
    from rapport.surveys.api import router as surveys_router
    from rapport.territories.api import router as territories_router
    from rapport.webforms.api import router as webforms_router
    from rapport.webhooks.api import router as webhooks_router

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
    api.add_router("/mail", mail_threads_router)
    api.add_router("/", files_router)
    api.add_router("/notifications", notifications_router)
    api.add_router("/webhooks", webhooks_router)
    api.add_router("/mail", mail_router)
    api.add_router("/automation", automation_router)
    api.add_router("/cases", cases_router)
    api.add_router("/knowledge", knowledge_router)
    api.add_router("/consent", consent_router)
    api.add_router("/sla", sla_router)
    api.add_router("/segments", segments_router)
    api.add_router("/lifecycle", lifecycle_router)
    api.add_router("/quotes", quotes_router)
    api.add_router("/playbooks", playbooks_router)
    api.add_router("/sequences", sequences_router)
    api.add_router("/assets", assets_router)
    api.add_router("/work-orders", fieldservice_router)
    api.add_router("/forms", webforms_router)
    api.add_router("/marketing", marketing_router)
    api.add_router("/returns", returns_router)
    api.add_router("/surveys", surveys_router)
    api.add_router("/territories", territories_router)
    api.add_router("/scoring", scoring_router)
    api.add_router("/campaigns", campaigns_router)
    api.add_router("/forecasts", forecasts_router)


_mount()
