"""Text with a NUL character is refused on every API request with a 422 that says where.

PostgreSQL cannot store NUL in text and psycopg raises before the query runs, so such a value
must never reach a filter or a save. Checked once here for query strings and JSON bodies
(django-ninja turns any exception in its body parser into a vague 400)."""

import orjson
from django.http import JsonResponse

from rapport.api.operations import is_json_type
from rapport.records.exceptions import field_path


def nul_path(value, path: tuple = ()) -> tuple | None:
    """The path to the first string holding a NUL character inside a parsed value."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = nul_path(key, (*path, key)) or nul_path(item, (*path, key))
        if found is not None:
            return found
    return None


def _refusal(where: str, path: tuple) -> JsonResponse:
    field = field_path(path) or where
    return JsonResponse(
        {
            "detail": f"{field}: text may not contain NUL characters",
            "code": "null_characters",
            "field": field,
        },
        status=422,
    )


class NulTextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        for key, values in request.GET.lists():
            for index, value in enumerate(values):
                if "\x00" in key or "\x00" in value:
                    return _refusal("query", (key,) if len(values) == 1 else (key, index))
        if is_json_type(request.content_type or "") and request.body and b"\\u0000" in request.body:
            try:
                data = orjson.loads(request.body)
            except orjson.JSONDecodeError:
                data = None  # the API's parser answers malformed JSON itself
            path = nul_path(data)
            if path is not None:
                return _refusal("body", path)
        return self.get_response(request)
