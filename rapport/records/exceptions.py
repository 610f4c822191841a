"""Errors that services raise and both faces (API, UI) translate for the user.

Validation errors are Django's `ValidationError` with a `code`; these cover the
other outcomes a client must be able to tell apart.
"""


class RecordNotFound(Exception):
    """The record does not exist or the user may not see it (the API answers 404)."""

    def __init__(self, what: str = "record"):
        super().__init__(f"{what} not found")
        self.what = what


class PermissionDenied(Exception):
    """The user may see the record but not do this to it (the API answers 403)."""

    def __init__(self, message: str = "You may not change this record", code: str = "forbidden"):
        super().__init__(message)
        self.code = code


class StaleVersion(Exception):
    """The record changed since the client read it (If-Match mismatch, the API answers 412)."""

    def __init__(self, current_version: int):
        super().__init__(f"The record was changed by someone else (now version {current_version})")
        self.current_version = current_version


class Conflict(Exception):
    """The request conflicts with the current state (the API answers 409)."""

    def __init__(self, message: str, code: str = "conflict", field: str | None = None):
        super().__init__(message)
        self.code = code
        self.field = field


def field_path(parts) -> str:
    """The field name errors report: `["lines", 0, "quantity"]` → `lines[0].quantity`."""
    out = ""
    for part in map(str, parts):
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out
