"""The customer portal's own people and sessions: portal users are NOT staff users.

A PortalUser is a contact allowed into /portal/. Sign-in is by an emailed magic link (only
the SHA-256 of its token is stored; single use; expiring). A signed-in portal user holds a
PortalSession (its own cookie, its own table: never Django's staff session)."""

from django.conf import settings
from django.db import models


class PortalAccountSetting(models.Model):
    """Per-account portal settings."""

    account = models.OneToOneField(
        "accounts.Account", on_delete=models.CASCADE, related_name="portal_setting"
    )
    company_cases = models.BooleanField(
        default=False, help_text="Portal users of this account see the whole company's cases."
    )
    updated_at = models.DateTimeField(auto_now=True)


class PortalUser(models.Model):
    contact = models.OneToOneField(
        "accounts.Contact", on_delete=models.CASCADE, related_name="portal_user"
    )
    email = models.EmailField(max_length=254, unique=True)  # stored lower-case
    is_active = models.BooleanField(default=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    invited_at = models.DateTimeField(null=True, blank=True)
    last_login_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.email

    # Templates and services treat a portal user like a signed-in person.
    is_authenticated = True


class TokenPurpose(models.TextChoices):
    LOGIN = "login", "Sign-in link"
    INVITE = "invite", "Invitation"


class PortalToken(models.Model):
    """A magic link: the token only lives in the mail; we keep its hash."""

    portal_user = models.ForeignKey(PortalUser, on_delete=models.CASCADE, related_name="tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=10, choices=TokenPurpose.choices)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["portal_user", "created_at"])]


class SignInRequest(models.Model):
    """One "email me a link" request, kept for the rate limit (per address hash and per IP)."""

    email_hash = models.CharField(max_length=64)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [
            models.Index(fields=["email_hash", "created_at"]),
            models.Index(fields=["ip", "created_at"]),
        ]


class PortalSession(models.Model):
    key_hash = models.CharField(max_length=64, unique=True)
    portal_user = models.ForeignKey(PortalUser, on_delete=models.CASCADE, related_name="sessions")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)


class PortalCaseFile(models.Model):
    """A file a customer attached to a case in the portal (stored with rapport/files on the
    contact, linked to the case here)."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+")
    file = models.ForeignKey("files.StoredFile", on_delete=models.CASCADE, related_name="+")
    portal_user = models.ForeignKey(
        PortalUser, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "id"]
