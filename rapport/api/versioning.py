"""`If-Match` / `ETag` handling: every record carries an integer version."""

from ninja.errors import HttpError


def expected_version(request) -> int | None:
    """The version the client says it changes (`If-Match: "3"`), or None when absent."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip()
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip('"')
    if not value.isdigit():
        raise HttpError(400, 'If-Match must carry the record version, e.g. If-Match: "3"')
    return int(value)


def set_etag(response, version: int) -> None:
    response["ETag"] = f'"{version}"'
