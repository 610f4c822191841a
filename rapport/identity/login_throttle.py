"""Login throttling on top of django-axes: the client's real address behind trusted proxies,
and a second limit per address so that one client trying one password on many names
(password spraying) is stopped too.

axes keeps one failure counter row per (username, address, user agent) and locks a
username+address pair after AXES_FAILURE_LIMIT failures. Its single limit cannot also serve
as a per-address limit (five failures from one office would lock the whole office out), so
the handler below adds RAPPORT_LOGIN_FAILURES_PER_ADDRESS, counted over the same rows.
"""

import ipaddress

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_address(request) -> str:
    """The client's address: REMOTE_ADDR, or behind RAPPORT_TRUSTED_PROXIES proxies the entry
    of X-Forwarded-For that the outermost trusted proxy added.

    Each proxy appends the address it received the request from, so with N trusted proxies the
    client is the N-th entry from the right; entries further left were sent by the client and
    can be anything. A request with fewer entries did not pass every proxy: its leftmost entry
    is the best guess. Without trusted proxies the header is ignored (a client could forge it).
    """
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.RAPPORT_TRUSTED_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    entries = [entry.strip() for entry in forwarded.split(",") if entry.strip()]
    if not entries:
        return remote
    chosen = entries[-proxies] if len(entries) >= proxies else entries[0]
    return _valid_ip(chosen) or remote


class LoginThrottleHandler(AxesDatabaseHandler):
    """axes' database handler plus a limit of failed sign-ins per client address (any names)."""

    @staticmethod
    def address_failures(request) -> int:
        address = getattr(request, "axes_ip_address", None)
        if not address:
            return 0
        total = AccessAttempt.objects.filter(
            ip_address=address, attempt_time__gte=get_cool_off_threshold(request)
        ).aggregate(n=Sum("failures_since_start"))["n"]
        return total or 0

    def _address_locked(self, request) -> bool:
        return self.address_failures(request) >= settings.RAPPORT_LOGIN_FAILURES_PER_ADDRESS

    def is_locked(self, request, credentials=None) -> bool:
        return super().is_locked(request, credentials) or self._address_locked(request)

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request=request, **kwargs)
        if (
            request is not None
            and not getattr(request, "axes_locked_out", False)
            and not self.is_whitelisted(request, credentials)
            and self._address_locked(request)
        ):
            request.axes_locked_out = True
            request.axes_credentials = credentials
