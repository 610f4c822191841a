"""A campaign message for one recipient: the template (or the A/B variant's content) in the
one sandboxed template language (rapport.mail.rendering), tracked links, the open pixel and
the unsubscribe footer; `outgoing` is it as a message for the mail outbox
(rapport.mail.services.queue_emails, a batch at a time)."""

from __future__ import annotations

import html as html_lib
import re

from rapport.campaigns import tracking
from rapport.campaigns.models import Campaign, CampaignRecipient, CampaignSend
from rapport.mail.models import Purpose
from rapport.mail.rendering import TemplateProblem, markdown_to_html  # noqa: F401
from rapport.mail.selectors import ACCOUNT_FIELDS, CONTACT_FIELDS, _fields
from rapport.mail.services import OutgoingEmail

HREF_RE = re.compile(r"""href=(["'])(https?://[^"']+)\1""", re.IGNORECASE)
URL_RE = re.compile(r"""https?://[^\s<>"')\]]+""")


class Renderer:
    """Compiles the campaign's sources once and renders them per recipient."""

    def __init__(self, campaign: Campaign, send: CampaignSend, *, dry_run: bool = False):
        from rapport.mail.rendering import _environment

        self.campaign = campaign
        self.send = send
        self.dry_run = dry_run
        self._text_env = _environment(html=False, strict=False)
        self._html_env = _environment(html=True, strict=False)
        self._compiled: dict[tuple[str, bool], object] = {}
        self._links: dict[str, int] = {}
        self._tracked: dict[tuple[int, str], str] = {}
        template = send.template
        self.base = {
            "subject": send.subject or (template.subject if template else ""),
            "text": template.body_text if template else "",
            "html": template.body_html if template else "",
        }

    def _render(self, source: str, context: dict, *, html: bool) -> str:
        key = (source, html)
        compiled = self._compiled.get(key)
        if compiled is None:
            env = self._html_env if html else self._text_env
            try:
                compiled = env.from_string(source or "")
            except Exception as exc:  # noqa: BLE001 - a syntax error names its line
                raise TemplateProblem(str(exc)) from exc
            self._compiled[key] = compiled
        return compiled.render(context)

    def _sources(self, recipient: CampaignRecipient) -> dict:
        variant = recipient.variant
        if variant is None:
            return self.base
        return {
            "subject": variant.subject or self.base["subject"],
            "text": variant.body_text or (self.base["text"] if not variant.body_html else ""),
            "html": variant.body_html or (self.base["html"] if not variant.body_text else ""),
        }

    def context(self, recipient: CampaignRecipient) -> dict:
        contact = recipient.contact
        account = contact.account if contact is not None and contact.account_id else None
        mailbox = self.send.mailbox
        return {
            "contact": _fields(contact, CONTACT_FIELDS),
            "account": _fields(account, ACCOUNT_FIELDS),
            "recipient": {"email": recipient.email},
            "campaign": {"name": self.campaign.name},
            "sender": {
                "name": self.send.from_name or (mailbox.display_name if mailbox else ""),
                "email": mailbox.email_address if mailbox else "",
                "signature": (mailbox.signature if mailbox else "") or "",
            },
        }

    def _link_id(self, url: str) -> int:
        link_id = self._links.get(url)
        if link_id is None:
            from rapport.campaigns.services import link_for

            link_id = self._links[url] = link_for(self.campaign, url).pk
        return link_id

    def _track(self, recipient: CampaignRecipient, url: str) -> str:
        if self.dry_run or not self.send.track_clicks:
            return url
        # One signed link per distinct URL of a message (a URL in both the text and the
        # HTML part, or repeated, is signed once: the token is the same).
        key = (recipient.pk, url)
        tracked = self._tracked.get(key)
        if tracked is None:
            if len(self._tracked) > 64:
                self._tracked.clear()
            tracked = self._tracked[key] = tracking.click_url(recipient.pk, self._link_id(url))
        return tracked

    def _tracked_href(self, recipient: CampaignRecipient, match) -> str:
        url = self._track(recipient, html_lib.unescape(match.group(2)))
        return f'href="{html_lib.escape(url)}"'

    def render(self, recipient: CampaignRecipient) -> dict:
        sources = self._sources(recipient)
        context = self.context(recipient)
        subject = " ".join(self._render(sources["subject"], context, html=False).split())
        text = self._render(sources["text"], context, html=False)
        body_html = self._render(sources["html"], context, html=True) if sources["html"] else ""
        text = URL_RE.sub(lambda m: self._track(recipient, m.group(0)), text)
        if body_html:
            body_html = HREF_RE.sub(lambda m: self._tracked_href(recipient, m), body_html)
        unsubscribe = ""
        if self.send.consent_purpose_id and recipient.email:
            from rapport.consent.links import unsubscribe_url

            unsubscribe = unsubscribe_url(
                address=recipient.email, purpose_id=self.send.consent_purpose_id
            )
        if unsubscribe:
            text = f"{text.rstrip()}\n\n--\nUnsubscribe: {unsubscribe}\n"
        if body_html:
            footer = ""
            if unsubscribe:
                footer += f'<p><a href="{html_lib.escape(unsubscribe)}">Unsubscribe</a></p>'
            if self.send.track_opens and not self.dry_run:
                pixel = html_lib.escape(tracking.open_url(recipient.pk))
                footer += f'<img src="{pixel}" width="1" height="1" alt="">'
            if "</body>" in body_html:
                body_html = body_html.replace("</body>", footer + "</body>", 1)
            else:
                body_html += footer
        return {"subject": subject, "text": text, "html": body_html, "error": ""}

    def outgoing(self, recipient: CampaignRecipient, *, send_at) -> OutgoingEmail:
        """The recipient's message for the outbox (`rapport.mail.services.queue_emails`)."""
        rendered = self.render(recipient)
        return OutgoingEmail(
            to=[recipient.email],
            subject=rendered["subject"],
            text=rendered["text"],
            html=rendered["html"],
            mailbox=self.send.mailbox,
            from_name=self.send.from_name,
            purpose=Purpose.MARKETING,
            consent_purpose=self.send.consent_purpose,
            send_at=send_at,
            template=self.send.template,
        )
