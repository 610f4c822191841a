"""What every API operation gets, installed once on the NinjaAPI (`router.py`) so that no
endpoint can forget it:

- `json_bodies_only` (before validation): an operation that reads a JSON body answers 415
  to a body of another content type (multipart upload endpoints take multipart).
- `known_query_params_only` (before validation): a GET operation answers 400 naming the
  first query parameter it does not declare (`?owner=` where the filter is `owner_id`),
  instead of ignoring it and answering as if no filter had been asked.
- `one_transaction` (around the endpoint): a write runs in one transaction, so an error
  the API maps to a 4xx (a `DataError`, a `ValidationError` raised after a first write, an
  error while reading the written row back) leaves nothing of the request stored.
  Reads and uploads are not wrapped: on SQLite every transaction here begins IMMEDIATE (the
  write lock), which must not wait on a client or a file copy.
"""

import difflib
import functools

from django.db import transaction
from django.http import JsonResponse

from rapport.api.errors import error_body

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
JSON_TYPES = {"application/json"}


def is_json_type(content_type: str) -> bool:
    return content_type in JSON_TYPES or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


def _reads_json_body(operation) -> bool:
    sources = {getattr(m, "__ninja_param_source__", None) for m in operation.models}
    return "body" in sources and not sources & {"form", "file"}


def json_bodies_only(run):
    operation = getattr(run, "__self__", None)
    if operation is None or not _reads_json_body(operation):
        return run

    @functools.wraps(run)
    def checked(request, *args, **kwargs):
        if (
            request.method not in SAFE_METHODS
            and request.body
            and not is_json_type(request.content_type or "")
        ):
            return JsonResponse(
                error_body(
                    "The body must be sent as application/json",
                    "unsupported_media_type",
                    "Content-Type",
                ),
                status=415,
            )
        return run(request, *args, **kwargs)

    return checked


def _operation_of(run):
    """The ninja Operation behind `run` (its bound `run`, possibly wrapped by another
    view decorator)."""
    while run is not None:
        operation = getattr(run, "__self__", None)
        if operation is not None:
            return operation
        run = getattr(run, "__wrapped__", None)
    return None


def declared_query_params(operation) -> set[str]:
    """The query parameter names an operation declares (a `Query[Schema]` argument's fields
    are flattened into names, as ninja reads them)."""
    names: set[str] = set()
    for model in operation.models:
        if getattr(model, "__ninja_param_source__", None) != "query":
            continue
        flat = getattr(model, "__ninja_flatten_map__", None)
        if flat:
            names.update(flat)
        else:
            names.update(f.alias or name for name, f in model.model_fields.items())
    return names


def known_query_params_only(run):
    operation = _operation_of(run)
    if operation is None or "GET" not in operation.methods:
        return run
    declared = frozenset(declared_query_params(operation))

    @functools.wraps(run)
    def checked(request, *args, **kwargs):
        unknown = [name for name in request.GET if name not in declared]
        if unknown:
            # Who may not call the operation hears that first (401/403/429), as without
            # the parameter; the checks run once, since `run` is not called.
            refused = operation._run_checks(request)
            if refused is not None:
                return refused
            name = unknown[0]
            close = difflib.get_close_matches(name, sorted(declared), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            accepted = ", ".join(sorted(declared)) or "none"
            return JsonResponse(
                error_body(
                    f"unknown query parameter {name}{hint} (accepted: {accepted})",
                    "unknown_parameter",
                    name,
                ),
                status=400,
            )
        return run(request, *args, **kwargs)

    return checked


def one_transaction(view_func):
    @functools.wraps(view_func)
    def atomic_when_writing(request, *args, **kwargs):
        if request.method in SAFE_METHODS or request.content_type.startswith("multipart/"):
            # An upload is copied to disk first: not while holding SQLite's write lock.
            return view_func(request, *args, **kwargs)
        with transaction.atomic():
            return view_func(request, *args, **kwargs)

    return atomic_when_writing
