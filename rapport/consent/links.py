"""The absolute signed links other modules put in mail: the RFC 8058 unsubscribe headers
(added by the mail sender to every marketing message) and the preference centre link a
campaign template can offer."""

from django.conf import settings
from django.urls import reverse

from rapport.consent import tokens


def unsubscribe_url(*, address: str, purpose_id: int) -> str:
    token = tokens.make_unsubscribe_token(address=address, purpose_id=purpose_id)
    return tokens.absolute_url("consent_public:unsubscribe", token)


def preferences_url(person) -> str:
    from rapport.consent.selectors import person_filter

    who = person_filter(person)
    ref = tokens.person_ref(
        contact_id=person.pk if "contact" in who else None,
        lead_id=person.pk if "lead" in who else None,
    )
    token = tokens.make_preferences_token(person=ref, address=getattr(person, "email", "") or "")
    return tokens.absolute(reverse("consent_public:preferences", args=[token]))


def list_unsubscribe_headers(*, address: str, purpose_id: int) -> dict[str, str]:
    """`List-Unsubscribe` (the signed HTTPS link, and a mailto when
    RAPPORT_CONSENT_UNSUBSCRIBE_MAILTO names a mailbox that handles it) and
    `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058)."""
    targets = [f"<{unsubscribe_url(address=address, purpose_id=purpose_id)}>"]
    mailto = getattr(settings, "RAPPORT_CONSENT_UNSUBSCRIBE_MAILTO", "")
    if mailto:
        targets.append(f"<mailto:{mailto}?subject=unsubscribe>")
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
