"""Forms of the mail pages: the composer's Email tab, mailboxes and templates."""

from django import forms
from django.template.defaultfilters import filesizeformat

from rapport.files.selectors import record_files
from rapport.mail.models import (
    AuthMethod,
    EmailTemplate,
    Mailbox,
    MailboxPurpose,
    Purpose,
    Security,
)
from rapport.mail.rendering import BODY_FORMATS
from rapport.mail.selectors import mailboxes_to_send_from, record_people, templates_active
from rapport.mail.thread_selectors import message_get_for_user
from rapport.records.exceptions import RecordNotFound
from rapport.web.forms import DATETIME_INPUT


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


def _split(value: str) -> list[str]:
    return [a.strip() for a in (value or "").replace(";", ",").split(",") if a.strip()]


class EmailComposerForm(forms.Form):
    kind, label, button = "email", "Email", "Send email"
    mailbox = forms.ChoiceField(label="From", required=False)
    template = forms.ChoiceField(label="Template", required=False)
    to_people = forms.MultipleChoiceField(
        label="To", required=False, widget=forms.CheckboxSelectMultiple
    )
    to_other = forms.CharField(
        label="Other recipients", required=False, max_length=2000, help_text="Comma-separated"
    )
    cc = forms.CharField(label="Cc", required=False, max_length=2000)
    bcc = forms.CharField(label="Bcc", required=False, max_length=2000)
    subject = forms.CharField(max_length=998, label="Subject")
    body = forms.CharField(
        max_length=200_000,
        label="Message",
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Merge fields such as {{ contact.first_name }} are filled in when sent.",
    )
    body_format = forms.ChoiceField(
        label="Format",
        choices=BODY_FORMATS,
        initial="text",
        required=False,
        help_text="Formatted: **bold**, *italic*, [link](https://…), lists with - and 1.",
    )
    attachments = MultipleFileField(label="Attachments", required=False)
    record_files = forms.MultipleChoiceField(
        label="Attach files of this record", required=False, widget=forms.CheckboxSelectMultiple
    )
    reply_to = forms.IntegerField(required=False, widget=forms.HiddenInput)
    send_at = forms.DateTimeField(
        required=False, label="Send later", widget=DATETIME_INPUT, help_text="Empty: now"
    )

    def __init__(self, data=None, files=None, *, user, record, initial=None):
        super().__init__(data, files, initial=initial)
        self.user, self.record = user, record
        boxes = list(mailboxes_to_send_from(user))
        self.fields["mailbox"].choices = [("", "The organisation's address")] + [
            (str(b.pk), f"{b.display_name or b.name} <{b.email_address}>") for b in boxes
        ]
        if boxes and not (initial or {}).get("mailbox") and data is None:
            own = next((b for b in boxes if b.owner_id == user.pk), boxes[0])
            self.initial["mailbox"] = str(own.pk)
        self.fields["template"].choices = [("", "No template")] + [
            (str(t.pk), t.name) for t in templates_active()
        ]
        self.record_file_rows = {str(f.pk): f for f in record_files(record)[:50]}
        self.fields["record_files"].choices = [
            (pk, f"{f.name} ({filesizeformat(f.size)})") for pk, f in self.record_file_rows.items()
        ]
        self.reply_message = self._reply_message(data, initial)
        self.people = record_people(record, user=user)
        self.fields["to_people"].choices = [(p.email, p.label) for p in self.people]
        if data is None and self.reply_message is not None:
            self._prefill_reply(self.reply_message)
        if data is None and self.people and "to_people" not in self.initial:
            self.initial["to_people"] = [self.people[0].email]

    def _reply_message(self, data, initial):
        raw = (data or {}).get("reply_to") if data is not None else (initial or {}).get("reply_to")
        if not raw or not str(raw).isdigit():
            return None
        try:
            return message_get_for_user(pk=int(raw), user=self.user)
        except RecordNotFound:
            return None

    def _prefill_reply(self, message) -> None:
        """Answer the sender of a received message (everyone it went to, for one we sent) on
        the same subject; the reply joins the thread when sent."""
        subject = message.subject or ""
        if not subject.lower().startswith("re:"):
            subject = f"Re: {subject}".strip()
        if not self.initial.get("subject") or self.initial.get("template"):
            self.initial["subject"] = subject
        self.initial["reply_to"] = message.pk
        answer = [message.from_address] if message.direction == "in" else list(message.to)
        known = {p.email.lower() for p in self.people}
        if "to_people" not in self.initial:
            self.initial["to_people"] = [a for a in answer if a.lower() in known]
        others = [a for a in answer if a.lower() not in known]
        if others and not self.initial.get("to_other") and not self.initial.get("to_people"):
            self.initial["to_other"] = ", ".join(others)

    def clean(self):
        cleaned = super().clean()
        to = list(cleaned.get("to_people") or []) + _split(cleaned.get("to_other", ""))
        cleaned["to"] = to
        cleaned["cc_list"] = _split(cleaned.get("cc", ""))
        cleaned["bcc_list"] = _split(cleaned.get("bcc", ""))
        if not (to or cleaned["cc_list"] or cleaned["bcc_list"]):
            self.add_error("to_people", "Choose at least one recipient.")
        if cleaned.get("reply_to") and self.reply_message is None:
            self.add_error(None, "The message you are answering is not available any more.")
        return cleaned

    def chosen_files(self) -> list:
        return [self.record_file_rows[pk] for pk in self.cleaned_data.get("record_files") or []]

    def chosen_template(self) -> EmailTemplate | None:
        pk = self.cleaned_data.get("template")
        return templates_active().filter(pk=pk).first() if pk else None


class MailboxForm(forms.ModelForm):
    secret = forms.CharField(
        label="Password, app password or OAuth2 token",
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Stored encrypted; never shown again. Leave empty to keep the stored one.",
    )
    clear_secret = forms.BooleanField(label="Remove the stored password", required=False)

    class Meta:
        model = Mailbox
        fields = [
            "name",
            "email_address",
            "display_name",
            "purpose",
            "auth_method",
            "smtp_host",
            "smtp_port",
            "smtp_security",
            "smtp_user",
            "imap_host",
            "imap_port",
            "imap_security",
            "imap_user",
            "imap_folder",
            "sync_enabled",
            "create_leads_from_unknown",
            "signature",
            "active",
        ]
        widgets = {"signature": forms.Textarea(attrs={"rows": 3})}
        labels = {
            "smtp_host": "SMTP server",
            "smtp_port": "SMTP port",
            "smtp_security": "SMTP security",
            "smtp_user": "SMTP user (empty: the address)",
            "imap_host": "IMAP server",
            "imap_port": "IMAP port",
            "imap_security": "IMAP security",
            "imap_user": "IMAP user",
            "imap_folder": "IMAP folder",
        }

    def mailbox_fields(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k in self.Meta.fields}

    def secret_change(self) -> str | None:
        if self.cleaned_data.get("clear_secret"):
            return ""
        return self.cleaned_data.get("secret") or None


# Choices are referenced so the form offers exactly the model's (kept in one place).
_ = (AuthMethod, MailboxPurpose, Security, Purpose)


class TemplateForm(forms.ModelForm):
    class Meta:
        model = EmailTemplate
        fields = ["name", "purpose", "subject", "body_text", "body_html", "active"]
        widgets = {
            "subject": forms.TextInput(),
            "body_text": forms.Textarea(attrs={"rows": 12, "class": "code-input"}),
            "body_html": forms.Textarea(attrs={"rows": 6, "class": "code-input"}),
        }
        labels = {"body_text": "Text", "body_html": "HTML (optional)"}
