"""The one gate every outgoing address passes before the worker hands a message to a server.

`may_send(address, purpose, consent_purpose_id)` answers (allowed, reason):

- any purpose: an address with a hard bounce is never sent to again (a hard bounce means the
  mailbox does not exist; sending on only hurts our reputation);
- marketing: an address suppressed by the mail app (hard bounce, complaint) is skipped, and
  the consent ledger must allow it (rapport.consent.selectors.marketing_refusals: a consent
  purpose named, the address not on the suppression list, nobody with it opted out, someone
  with it opted in — confirmed when the purpose needs double opt-in).

Callers (the sender, the composer's warnings, automation's send_email) never check
AddressStatus or consent themselves: this is the one place.
"""

from collections.abc import Iterable

from rapport.mail.models import AddressStatus, BounceKind, Purpose


def _statuses(addresses: Iterable[str]) -> dict[str, AddressStatus]:
    lowered = {a.lower() for a in addresses}
    if not lowered:
        return {}
    return {s.address: s for s in AddressStatus.objects.filter(address__in=lowered)}


def _decide(status: AddressStatus | None, purpose: str) -> tuple[bool, str]:
    if status is None:
        return True, ""
    if status.bounce_kind == BounceKind.HARD:
        reason = status.last_bounce_reason or "the address bounced permanently"
        return False, f"hard bounce: {reason}"
    if purpose == Purpose.MARKETING and status.suppressed:
        return False, "suppressed for marketing"
    return True, ""


def may_send(address: str, purpose: str, consent_purpose_id: int | None = None) -> tuple[bool, str]:
    """Whether a message of `purpose` may go to `address`, and if not, why."""
    reason = blocked_addresses([address], purpose, consent_purpose_id).get(address)
    return (reason is None), (reason or "")


def blocked_addresses(
    addresses: Iterable[str], purpose: str, consent_purpose_id: int | None = None
) -> dict[str, str]:
    """{address: reason} for each of `addresses` that may not be sent to (a fixed number of
    queries for the batch)."""
    addresses = list(addresses)
    statuses = _statuses(addresses)
    blocked = {}
    for address in addresses:
        allowed, reason = _decide(statuses.get(address.lower()), purpose)
        if not allowed:
            blocked[address] = reason
    if purpose == Purpose.MARKETING:
        from rapport.consent.selectors import marketing_refusals

        rest = [a for a in addresses if a not in blocked]
        blocked.update(marketing_refusals(rest, consent_purpose_id))
    return blocked
