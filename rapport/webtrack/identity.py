"""Who a visitor is: the signed `rpv` token (contract with the campaigns branch's click
redirect: `signing.dumps({"c": contact_id}, salt="rapport.webtrack.visitor", compress=True)`;
a form submission issues the same token, with `{"l": lead_id}` for a lead)."""

from django.core import signing

SALT = "rapport.webtrack.visitor"
MAX_AGE = 90 * 86400


def visitor_token(*, contact_id: int | None = None, lead_id: int | None = None) -> str:
    payload = {"c": contact_id} if contact_id else {"l": lead_id}
    return signing.dumps(payload, salt=SALT, compress=True)


def read_visitor_token(token: str) -> tuple[int | None, int | None]:
    """(contact_id, lead_id) of a valid token; BadSignature when tampered or older than 90 days."""
    payload = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    if not isinstance(payload, dict):
        raise signing.BadSignature("not a visitor token")
    contact_id, lead_id = payload.get("c"), payload.get("l")
    if isinstance(contact_id, int) and contact_id > 0:
        return contact_id, None
    if isinstance(lead_id, int) and lead_id > 0:
        return None, lead_id
    raise signing.BadSignature("not a visitor token")
