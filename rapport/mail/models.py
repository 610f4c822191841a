"""Email as a touch point: mailboxes, threads, messages (both directions), the links that file
a message on records, the outbox of deliveries, user-editable templates and what we know of
each address (bounces).

One outbox: every outgoing message (a reply from a record, a campaign, a case reply, a
notification) is a `MailMessage(direction=out)` plus its `Delivery` row, written in the
business transaction (`rapport.mail.services.queue_email`); the worker claims deliveries and
sends them. One threading rule set: `rapport.mail.tokens` (our signed Message-IDs) and the
matching order in DESIGN.md, recorded per message in `match_reason`.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Security(models.TextChoices):
    SSL = "ssl", "SSL/TLS (implicit)"
    STARTTLS = "starttls", "STARTTLS"
    NONE = "none", "None (plain text; loopback only)"


class AuthMethod(models.TextChoices):
    PASSWORD = "password", "Password or app password"
    XOAUTH2 = "xoauth2", "OAuth2 access token (XOAUTH2)"


class MailboxPurpose(models.TextChoices):
    GENERAL = "general", "General"
    SALES = "sales", "Sales"
    SUPPORT = "support", "Support"


class Mailbox(models.Model):
    """A shared mailbox (owner empty; admins manage it) or a user's own."""

    name = models.CharField(max_length=100)
    email_address = models.EmailField(max_length=254)
    display_name = models.CharField(max_length=100, blank=True)
    signature = models.TextField(blank=True, help_text="Offered to templates as sender.signature.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="mailboxes",
        help_text="Empty for a shared mailbox.",
    )
    purpose = models.CharField(
        max_length=10, choices=MailboxPurpose.choices, default=MailboxPurpose.GENERAL
    )
    auth_method = models.CharField(
        max_length=10, choices=AuthMethod.choices, default=AuthMethod.PASSWORD
    )
    imap_host = models.CharField(max_length=255, blank=True)
    imap_port = models.PositiveIntegerField(default=993)
    imap_security = models.CharField(max_length=10, choices=Security.choices, default=Security.SSL)
    imap_user = models.CharField(max_length=255, blank=True)
    imap_folder = models.CharField(max_length=255, default="INBOX")
    smtp_host = models.CharField(max_length=255, blank=True)
    smtp_port = models.PositiveIntegerField(default=465)
    smtp_security = models.CharField(max_length=10, choices=Security.choices, default=Security.SSL)
    smtp_user = models.CharField(max_length=255, blank=True)
    # The password / app password / OAuth2 token, encrypted (rapport.mail.crypto); never
    # returned by the API or shown on a page.
    secret_encrypted = models.TextField(blank=True)
    sync_enabled = models.BooleanField(default=True)
    create_leads_from_unknown = models.BooleanField(
        default=False, help_text="Mail from an unknown sender creates a lead."
    )
    active = models.BooleanField(default=True)
    # IMAP sync state (one folder per mailbox): a changed UIDVALIDITY restarts from UID 1
    # without duplicating (messages are unique by Message-ID per mailbox too).
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # The per-mailbox sync lease (rapport.mail.sync): a worker takes it with one conditional
    # UPDATE, renews it after each batch and gives it back; an expired lease (a dead worker)
    # may be taken over.
    sync_locked_until = models.DateTimeField(null=True, blank=True)
    sync_locked_by = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "mailboxes"

    def __str__(self) -> str:
        return f"{self.name} <{self.email_address}>"

    def set_secret(self, plain: str) -> None:
        from rapport.mail.crypto import encrypt_secret

        self.secret_encrypted = encrypt_secret(plain)

    def get_secret(self) -> str:
        from rapport.mail.crypto import decrypt_secret

        return decrypt_secret(self.secret_encrypted)

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_encrypted)


class MailThread(models.Model):
    """A conversation. `token` is what our Message-IDs and body references carry (signed)."""

    token = models.CharField(max_length=32, unique=True)
    subject = models.CharField(max_length=998, blank=True)
    mailbox = models.ForeignKey(
        Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="threads"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]

    def __str__(self) -> str:
        return self.subject or self.token


class Direction(models.TextChoices):
    INBOUND = "in", "Received"
    OUTBOUND = "out", "Sent"


class MatchReason(models.TextChoices):
    """Why an incoming message joined its thread (checked in this order)."""

    OUR_TOKEN = "our_token", "Our signed Message-ID in In-Reply-To/References"
    STORED_MESSAGE_ID = "stored_message_id", "A stored Message-ID in In-Reply-To/References"
    BODY_REFERENCE = "body_reference", "A signed reference in the body"
    SUBJECT_TOKEN = "subject_token", "A subject token from a known participant"
    NEW_THREAD = "new_thread", "No match: a new thread"
    MOVED = "moved", "Moved by a user"
    SENT = "sent", "Sent from Rapport"


class Purpose(models.TextChoices):
    TRANSACTIONAL = "transactional", "Transactional"
    SERVICE = "service", "Service"
    MARKETING = "marketing", "Marketing"


class MailMessage(models.Model):
    thread = models.ForeignKey(MailThread, on_delete=models.CASCADE, related_name="messages")
    mailbox = models.ForeignKey(
        Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    # The RFC 5322 Message-ID with its angle brackets, e.g. "<abc@example.com>".
    message_id = models.CharField(max_length=998, blank=True, db_index=True)
    in_reply_to = models.TextField(blank=True)
    references = models.TextField(blank=True)
    from_address = models.EmailField(max_length=254, blank=True, db_index=True)
    from_name = models.CharField(max_length=255, blank=True)
    reply_to = models.CharField(max_length=998, blank=True)
    to = models.JSONField(default=list, blank=True)  # ["a@x.com", ...] (addresses only)
    cc = models.JSONField(default=list, blank=True)
    bcc = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=998, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)  # the Date header (may be missing)
    received_at = models.DateTimeField(null=True, blank=True)  # when Rapport stored or sent it
    text_body = models.TextField(blank=True)
    html_body = models.TextField(blank=True)  # sanitised (nh3) before it is stored
    raw = models.ForeignKey(
        "files.StoredFile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    parse_warnings = models.JSONField(default=list, blank=True)
    match_reason = models.CharField(max_length=20, choices=MatchReason.choices, blank=True)
    is_auto_reply = models.BooleanField(default=False)
    is_bounce = models.BooleanField(default=False)
    purpose = models.CharField(max_length=14, choices=Purpose.choices, blank=True)
    template = models.ForeignKey(
        "mail.EmailTemplate", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    imap_uidvalidity = models.BigIntegerField(null=True, blank=True)
    imap_uid = models.BigIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [
            models.Index(fields=["thread", "received_at", "id"]),
            models.Index(fields=["mailbox", "message_id"], name="mail_msg_mailbox_msgid"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "imap_uidvalidity", "imap_uid"],
                condition=Q(imap_uid__isnull=False),
                name="mail_message_unique_imap_uid",
            ),
        ]

    def __str__(self) -> str:
        return self.subject or self.message_id


class MessageLink(models.Model):
    """Files a message on a record's timeline: one row per record it concerns."""

    message = models.ForeignKey(MailMessage, on_delete=models.CASCADE, related_name="links")
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    contact = models.ForeignKey(
        "accounts.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    lead = models.ForeignKey(
        "leads.Lead", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    opportunity = models.ForeignKey(
        "sales.Opportunity", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["account", "message"]),
            models.Index(fields=["contact", "message"]),
            models.Index(fields=["lead", "message"]),
            models.Index(fields=["opportunity", "message"]),
        ]


class MessageAttachment(models.Model):
    message = models.ForeignKey(MailMessage, on_delete=models.CASCADE, related_name="attachments")
    file = models.ForeignKey("files.StoredFile", on_delete=models.PROTECT, related_name="+")
    content_id = models.CharField(max_length=255, blank=True)
    inline = models.BooleanField(default=False)


class DeliveryState(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Delivery(models.Model):
    """The outbox row of one outgoing message: claimed by a worker, sent, marked."""

    message = models.OneToOneField(MailMessage, on_delete=models.CASCADE, related_name="delivery")
    state = models.CharField(
        max_length=10, choices=DeliveryState.choices, default=DeliveryState.QUEUED
    )
    purpose = models.CharField(
        max_length=14, choices=Purpose.choices, default=Purpose.TRANSACTIONAL
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()  # "send later" is a future next_attempt_at
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)  # the server's reason, shown on the record
    created_at = models.DateTimeField(auto_now_add=True)
    # The claim's lease: a `sending` row whose lease has run out belongs to a worker that
    # stopped; another worker may claim it again (rapport.mail.sender).
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Set (under the claim) just before the message is handed to the SMTP server; a re-claimed
    # row with it set may already have been delivered once (the one ambiguous window).
    handed_over_at = models.DateTimeField(null=True, blank=True)
    # The server's answer to the last attempt (e.g. "250 2.0.0 Ok: queued as 123").
    last_response = models.TextField(blank=True)
    # Recipients left out (suppressed after a hard bounce, refused by the server) and why.
    skipped = models.JSONField(default=dict, blank=True)
    # What a marketing message asks consent for (rapport.consent): the gate refuses marketing
    # to anyone without a valid consent for it, and the unsubscribe link names it.
    consent_purpose = models.ForeignKey(
        "consent.ConsentPurpose",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["state", "next_attempt_at"])]


class EmailTemplate(models.Model):
    """A user-editable template in the one sandboxed template language (rapport.mail.rendering)."""

    name = models.CharField(max_length=100, unique=True)
    purpose = models.CharField(
        max_length=14, choices=Purpose.choices, default=Purpose.TRANSACTIONAL
    )
    subject = models.CharField(max_length=998)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True)
    consent_purpose = models.ForeignKey(
        "consent.ConsentPurpose",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For marketing templates: the consent every recipient must have given.",
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BounceKind(models.TextChoices):
    HARD = "hard", "Hard (permanent)"
    SOFT = "soft", "Soft (temporary)"


class AddressStatus(models.Model):
    """What we know of one email address: bounces, and whether marketing may use it."""

    address = models.CharField(max_length=254, unique=True)  # lower-cased
    bounce_kind = models.CharField(max_length=4, choices=BounceKind.choices, blank=True)
    bounce_count = models.PositiveIntegerField(default=0)
    last_bounce_at = models.DateTimeField(null=True, blank=True)
    last_bounce_reason = models.TextField(blank=True)
    suppressed = models.BooleanField(default=False)  # no marketing mail (hard bounce, complaint)

    class Meta:
        verbose_name_plural = "address statuses"

    def __str__(self) -> str:
        return self.address
