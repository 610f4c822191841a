"""One error shape for the whole API: {"detail", "code", "field"} (+ "errors" when several).

No exception that a client can cause may end as a 500.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from rapport.records.exceptions import (
    Conflict,
    PermissionDenied,
    RecordNotFound,
    StaleVersion,
    field_path,
)


def error_body(
    detail: str, code: str, field: str | None = None, errors: list | None = None
) -> dict:
    body = {"detail": detail, "code": code, "field": field}
    if errors:
        body["errors"] = errors
    return body


def _django_errors(exc: DjangoValidationError) -> list[dict]:
    out = []
    if hasattr(exc, "error_dict"):
        for field, errs in exc.error_dict.items():
            for err in errs:
                msg = err.message % err.params if err.params else err.message
                out.append(
                    {
                        "detail": str(msg),
                        "code": err.code or "invalid",
                        "field": None if field == "__all__" else field,
                    }
                )
    else:
        for err in exc.error_list:
            msg = err.message % err.params if err.params else err.message
            out.append({"detail": str(msg), "code": err.code or "invalid", "field": None})
    return out


def _ninja_errors(exc: NinjaValidationError) -> list[dict]:
    out = []
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", ())]
        # Drop ninja's parameter-holder names ("payload", "filters") from the location.
        if len(loc) > 1 and loc[0] in ("body", "query", "path", "header", "file", "form"):
            where = loc[0]
            rest = loc[1:]
            if rest and rest[0] in ("payload", "filters", "params", "data", "body"):
                rest = rest[1:]
            field = field_path(rest) or where
        else:
            field = field_path(loc) or None
        out.append(
            {
                "detail": err.get("msg", "invalid value"),
                "code": err.get("type", "invalid"),
                "field": field,
            }
        )
    return out


def install_error_handlers(api: NinjaAPI) -> None:
    @api.exception_handler(NinjaValidationError)
    def schema_error(request, exc):
        errors = _ninja_errors(exc)
        first = (
            errors[0] if errors else {"detail": "Invalid request", "code": "invalid", "field": None}
        )
        detail = f"{first['field']}: {first['detail']}" if first["field"] else first["detail"]
        return api.create_response(
            request, error_body(detail, first["code"], first["field"], errors), status=422
        )

    @api.exception_handler(DjangoValidationError)
    def domain_error(request, exc):
        errors = _django_errors(exc)
        first = (
            errors[0] if errors else {"detail": "Invalid request", "code": "invalid", "field": None}
        )
        detail = f"{first['field']}: {first['detail']}" if first["field"] else first["detail"]
        return api.create_response(
            request, error_body(detail, first["code"], first["field"], errors), status=422
        )

    @api.exception_handler(RecordNotFound)
    def not_found(request, exc):
        return api.create_response(
            request, error_body(str(exc).capitalize(), "not_found"), status=404
        )

    @api.exception_handler(Http404)
    def http404(request, exc):
        return api.create_response(request, error_body("Not found", "not_found"), status=404)

    @api.exception_handler(PermissionDenied)
    def forbidden(request, exc):
        return api.create_response(request, error_body(str(exc), exc.code), status=403)

    @api.exception_handler(StaleVersion)
    def stale(request, exc):
        response = api.create_response(
            request, error_body(str(exc), "stale_version", "If-Match"), status=412
        )
        response["ETag"] = f'"{exc.current_version}"'
        return response

    @api.exception_handler(Conflict)
    def conflict(request, exc):
        return api.create_response(request, error_body(str(exc), exc.code, exc.field), status=409)

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request, exc):
        return api.create_response(
            request,
            error_body("Authentication required: a session or a Bearer token", "unauthenticated"),
            status=401,
        )

    @api.exception_handler(OverflowError)
    @api.exception_handler(DataError)
    def out_of_range(request, exc):
        # Numbers beyond the database's range (ids of 2**70, say) fail in the driver.
        return api.create_response(
            request,
            error_body("A number in the request is out of range", "out_of_range"),
            status=422,
        )

    @api.exception_handler(HttpError)
    def http_error(request, exc):
        code = {
            400: "bad_request",
            401: "unauthenticated",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            409: "conflict",
            412: "stale_version",
            429: "rate_limited",
        }.get(exc.status_code, "error")
        return api.create_response(request, error_body(str(exc), code), status=exc.status_code)
