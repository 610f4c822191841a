"""API authentication: a personal token (`Authorization: Bearer rpt_…`) or the UI session."""

from ninja.security import HttpBearer, SessionAuth

from rapport.identity.services import api_token_authenticate


class TokenAuth(HttpBearer):
    def authenticate(self, request, token):
        user = api_token_authenticate(token)
        if user is not None:
            request.user = user
        return user


class ActiveSessionAuth(SessionAuth):
    """The browser session (CSRF-checked by ninja); inactive users have no session user.

    A request that presents a Bearer token is judged by that token alone: a revoked or
    unknown token is a 401, not a session whose CSRF check failed (403)."""

    def _get_key(self, request):
        if request.headers.get("Authorization", "").lower().startswith("bearer "):
            return None
        return super()._get_key(request)


api_auth = [TokenAuth(), ActiveSessionAuth()]
