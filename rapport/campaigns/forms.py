"""The campaign wizard's form: one page in steps (what, audience, content, sender and
schedule, A/B test, tracking)."""

from django import forms

from rapport.campaigns.models import ABMetric, CampaignKind, default_rate_per_minute


class CampaignForm(forms.Form):
    # 1. What
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(
        choices=[
            (CampaignKind.EMAIL, "Email"),
            (CampaignKind.DIRECT_MAIL, "Direct mail (CSV export / webhook)"),
            (CampaignKind.SMS, "SMS (CSV export / webhook)"),
        ]
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    utm_campaign = forms.CharField(
        required=False,
        max_length=100,
        label="utm_campaign",
        help_text="Tags tracked clicks and web visits.",
    )
    cost = forms.DecimalField(required=False, max_digits=14, decimal_places=2, min_value=0)
    # 2. Audience
    include_segments = forms.MultipleChoiceField(
        required=False, help_text="Everyone in any of these segments…"
    )
    exclude_segments = forms.MultipleChoiceField(
        required=False, help_text="…except the members of these."
    )
    # 3. Content (email)
    template = forms.ChoiceField(required=False)
    subject = forms.CharField(
        required=False, max_length=998, help_text="Empty: the template's subject."
    )
    consent_purpose = forms.ChoiceField(
        required=False, help_text="Only people who opted in to it receive the campaign."
    )
    # 4. Sender and schedule
    mailbox = forms.ChoiceField(required=False, label="From mailbox")
    from_name = forms.CharField(required=False, max_length=100)
    send_at = forms.DateTimeField(
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Empty: as soon as it is started.",
    )
    rate_per_minute = forms.IntegerField(
        min_value=1, max_value=1_000_000, initial=default_rate_per_minute, label="Messages a minute"
    )
    # 5. A/B test
    ab_enabled = forms.BooleanField(required=False, label="A/B test the subject")
    variant_a_subject = forms.CharField(required=False, max_length=998, label="Subject A")
    variant_b_subject = forms.CharField(required=False, max_length=998, label="Subject B")
    ab_sample_percent = forms.IntegerField(
        min_value=2, max_value=100, initial=20, label="Sample (% of the audience)"
    )
    ab_wait_minutes = forms.IntegerField(min_value=0, initial=240, label="Wait (minutes)")
    ab_metric = forms.ChoiceField(choices=ABMetric.choices, label="Winner by")
    # 6. Tracking
    track_opens = forms.BooleanField(required=False, initial=True)
    track_clicks = forms.BooleanField(required=False, initial=True)
    conversion_days = forms.IntegerField(min_value=1, max_value=365, initial=30)
    webhook_event = forms.BooleanField(
        required=False,
        label="Publish recipients to webhooks",
        help_text="Direct mail / SMS: a campaign.recipients event per 500 people.",
    )

    def __init__(self, *args, segments=(), templates=(), purposes=(), mailboxes=(), **kwargs):
        super().__init__(*args, **kwargs)
        seg_choices = [(str(s.pk), s.name) for s in segments]
        self.fields["include_segments"].choices = seg_choices
        self.fields["exclude_segments"].choices = seg_choices
        self.fields["template"].choices = [("", "—")] + [(str(t.pk), t.name) for t in templates]
        self.fields["consent_purpose"].choices = [("", "—")] + [
            (str(p.pk), p.name) for p in purposes
        ]
        self.fields["mailbox"].choices = [("", "Default sender")] + [
            (str(m.pk), str(m)) for m in mailboxes
        ]

    def service_fields(self) -> tuple[dict, dict]:
        d = self.cleaned_data
        fields = {
            "name": d["name"],
            "kind": d["kind"],
            "description": d.get("description") or "",
            "utm_campaign": d.get("utm_campaign") or None,
        }
        if d.get("cost") is not None:
            fields["cost"] = d["cost"]

        def fk(name):
            return int(d[name]) if d.get(name) else None

        send = {
            "include_segments": [int(x) for x in d.get("include_segments") or []],
            "exclude_segments": [int(x) for x in d.get("exclude_segments") or []],
            "template_id": fk("template"),
            "subject": d.get("subject") or "",
            "consent_purpose_id": fk("consent_purpose"),
            "mailbox_id": fk("mailbox"),
            "from_name": d.get("from_name") or "",
            "send_at": d.get("send_at"),
            "rate_per_minute": d["rate_per_minute"],
            "ab_enabled": d.get("ab_enabled") or False,
            "ab_sample_percent": d["ab_sample_percent"],
            "ab_wait_minutes": d["ab_wait_minutes"],
            "ab_metric": d["ab_metric"],
            "track_opens": d.get("track_opens") or False,
            "track_clicks": d.get("track_clicks") or False,
            "conversion_days": d["conversion_days"],
            "webhook_event": d.get("webhook_event") or False,
        }
        if send["ab_enabled"]:
            send["variants"] = [
                {"label": "A", "subject": d.get("variant_a_subject") or ""},
                {"label": "B", "subject": d.get("variant_b_subject") or ""},
            ]
        return fields, send
