"""Signed tracking links: the open pixel (`/t/o/<token>.gif`) and click redirects
(`/t/c/<token>`). A token names a recipient (and, for a click, one `CampaignLink`: a URL that
was in the sent message) and is signed with the site's key and its own salt; a changed token
is refused (404). The redirect target is always the stored link, never a URL from the request:
there is no open redirect.

Clicks to our own sites (setting RAPPORT_TRACKED_SITE_DOMAINS) are decorated with the UTM
parameters and the signed visitor token `rpv` the web-tracking collector reads (the contract
with the forms branch)."""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core import signing

from rapport.consent.tokens import absolute_url

OPEN_SALT = "rapport.campaigns.open"
CLICK_SALT = "rapport.campaigns.click"
VISITOR_SALT = "rapport.webtrack.visitor"


class BadTrackingToken(Exception):
    pass


def open_token(recipient_id: int) -> str:
    return signing.Signer(salt=OPEN_SALT).sign(str(recipient_id))


def click_token(recipient_id: int, link_id: int) -> str:
    return signing.Signer(salt=CLICK_SALT).sign(f"{recipient_id}.{link_id}")


def read_open_token(token: str) -> int:
    try:
        value = signing.Signer(salt=OPEN_SALT).unsign(token)
    except signing.BadSignature as exc:
        raise BadTrackingToken from exc
    if not value.isdigit():
        raise BadTrackingToken
    return int(value)


def read_click_token(token: str) -> tuple[int, int]:
    try:
        value = signing.Signer(salt=CLICK_SALT).unsign(token)
    except signing.BadSignature as exc:
        raise BadTrackingToken from exc
    recipient, _, link = value.partition(".")
    if not (recipient.isdigit() and link.isdigit()):
        raise BadTrackingToken
    return int(recipient), int(link)


def open_url(recipient_id: int) -> str:
    return absolute_url("campaign_tracking:open", open_token(recipient_id))


def click_url(recipient_id: int, link_id: int) -> str:
    return absolute_url("campaign_tracking:click", click_token(recipient_id, link_id))


def tracked_domains() -> list[str]:
    value = getattr(settings, "RAPPORT_TRACKED_SITE_DOMAINS", []) or []
    if isinstance(value, str):
        value = value.split(",")
    return [d.strip().lower() for d in value if d and d.strip()]


def _on_tracked_site(host: str) -> bool:
    host = (host or "").lower().split(":")[0]
    return any(host == d or host.endswith("." + d) for d in tracked_domains())


def visitor_token(contact_id: int) -> str:
    return signing.dumps({"c": contact_id}, salt=VISITOR_SALT, compress=True)


def decorate(url: str, *, campaign, contact_id: int | None) -> str:
    """The redirect target: `url`, plus UTM parameters (only those not already there) and
    `rpv` when it is on one of our tracked sites."""
    parts = urlsplit(url)
    if not _on_tracked_site(parts.hostname or ""):
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {k for k, _ in query}
    extra = {
        "utm_source": "rapport",
        "utm_medium": "email",
        "utm_campaign": campaign.utm_campaign or f"campaign-{campaign.pk}",
    }
    for key, value in extra.items():
        if key not in present:
            query.append((key, value))
    if contact_id and "rpv" not in present:
        query.append(("rpv", visitor_token(contact_id)))
    return urlunsplit(parts._replace(query=urlencode(query)))
