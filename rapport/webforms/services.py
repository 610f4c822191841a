"""Writes of web forms: the form definition (managers and administrators) and a public
submission — spam checks, validation, dedup against existing people, assignment, consent
(through the consent ledger's double opt-in), the timeline event and the automation trigger,
all in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from rapport.accounts.contact_methods import email_normalise
from rapport.accounts.models import Contact, ContactEmail
from rapport.automation.outbox import emit
from rapport.campaigns.models import Campaign
from rapport.consent.models import ConsentAction, ConsentPurpose, ConsentSource
from rapport.consent.selectors import channel_for
from rapport.consent.services import consent_record
from rapport.identity.models import Role, User
from rapport.leads.models import Lead, LeadStatus
from rapport.records.exceptions import PermissionDenied, StaleVersion
from rapport.timeline.models import EventKind
from rapport.timeline.services import timeline_record
from rapport.webforms import spam
from rapport.webforms.catalogue import catalogue
from rapport.webforms.models import (
    AssignMode,
    FormSubmission,
    FormTarget,
    SubmissionOutcome,
    WebForm,
)
from rapport.webtrack.identity import visitor_token
from rapport.webtrack.services import campaign_by_utm

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
FORM_FIELDS = (
    "name",
    "slug",
    "title",
    "intro",
    "submit_label",
    "target",
    "fields",
    "assign_mode",
    "assign_user",
    "assign_team",
    "campaign",
    "lead_source",
    "thank_you_message",
    "redirect_url",
    "min_fill_seconds",
    "is_active",
)


# ----- definition ------------------------------------------------------------------------
def require_form_admin(actor: User) -> None:
    if not actor.is_active or not (actor.is_admin or actor.role == Role.MANAGER):
        raise PermissionDenied(
            "Only managers and administrators change web forms", code="forms_manager_only"
        )


def tracked_domains() -> list[str]:
    return [d.lower().lstrip(".") for d in getattr(settings, "RAPPORT_TRACKED_SITE_DOMAINS", [])]


def domain_allowed(host: str) -> bool:
    """`host` is one of the company's sites (RAPPORT_TRACKED_SITE_DOMAINS) or a subdomain."""
    host = (host or "").lower().split(":")[0]
    return any(host == d or host.endswith("." + d) for d in tracked_domains() if d)


def redirect_allowed(url: str) -> bool:
    try:
        URLValidator(schemes=["https", "http"])(url)
    except ValidationError:
        return False
    return domain_allowed(urlsplit(url).hostname or "")


def _clean_fields(target: str, fields: Any) -> list[dict]:
    known = catalogue(target)
    if not isinstance(fields, list):
        raise ValidationError({"fields": ["must be a list of fields"]})
    out, seen = [], set()
    for item in fields:
        key = (item or {}).get("key") if isinstance(item, dict) else None
        if key not in known:
            raise ValidationError({"fields": [f"unknown field {key!r} for a {target} form"]})
        if key in seen:
            raise ValidationError({"fields": [f"{known[key].label} is on the form twice"]})
        seen.add(key)
        out.append(
            {
                "key": key,
                "label": (str(item.get("label") or "").strip() or known[key].label)[:120],
                "required": bool(item.get("required")) or key == "email",
            }
        )
    if "email" not in seen:
        # Dedup, consent confirmation and visitor identity all hang on the address.
        out.insert(0, {"key": "email", "label": "Email", "required": True})
    if target == "lead" and "last_name" not in seen and "company" not in seen:
        out.insert(0, {"key": "last_name", "label": "Last name", "required": True})
    return out


def _clean(data: dict, current: WebForm | None = None) -> dict:
    data = dict(data)
    errors: dict[str, list[str]] = {}
    if "name" in data:
        data["name"] = (data["name"] or "").strip()
        if not data["name"]:
            errors["name"] = ["Give the form a name"]
    if "slug" in data or current is None:
        slug = slugify(data.get("slug") or data.get("name") or "")[:60]
        if not slug:
            errors["slug"] = ["Give the form an address (letters, digits, hyphens)"]
        elif WebForm.objects.filter(slug=slug).exclude(pk=getattr(current, "pk", None)).exists():
            errors["slug"] = [f"/f/{slug}/ is taken by another form"]
        data["slug"] = slug
    if not data.get("title") and current is None:
        data["title"] = data.get("name", "")
    target = data.get("target", getattr(current, "target", FormTarget.LEAD))
    if target not in FormTarget.values:
        errors["target"] = ["must be lead or contact"]
    if data.get("redirect_url") and not redirect_allowed(data["redirect_url"]):
        errors["redirect_url"] = [
            "Redirects go only to the company's own sites (RAPPORT_TRACKED_SITE_DOMAINS: "
            + (", ".join(tracked_domains()) or "none set")
            + ")"
        ]
    if "submit_label" in data:
        data["submit_label"] = (data["submit_label"] or "").strip()
        if not data["submit_label"]:
            errors["submit_label"] = ["Give the button a label"]
    mode = data.get("assign_mode", getattr(current, "assign_mode", AssignMode.USER))
    if mode not in AssignMode.values:
        errors["assign_mode"] = [f"must be one of {', '.join(AssignMode.values)}"]
    team = data.get("assign_team", getattr(current, "assign_team", None))
    if mode == AssignMode.ROUND_ROBIN and team is None:
        errors["assign_team"] = ["Round robin needs a team"]
    user = data.get("assign_user", getattr(current, "assign_user", None))
    if user is None:
        errors["assign_user"] = ["Choose who receives the submissions"]
    elif not user.is_active or user.is_read_only:
        errors["assign_user"] = ["This user cannot own records (inactive or read-only)"]
    if errors:
        raise ValidationError(errors)
    if "fields" in data or current is None:
        data["fields"] = _clean_fields(target, data.get("fields") or [])
    return data


def form_create(*, actor: User, data: dict, purposes: list[ConsentPurpose] | None = None):
    """Create a form (managers and administrators); email is always asked."""
    require_form_admin(actor)
    clean = _clean({k: v for k, v in data.items() if k in FORM_FIELDS})
    with transaction.atomic():
        form = WebForm.objects.create(**clean, created_by=actor)
        if purposes:
            form.consent_purposes.set(purposes)
    return form


def form_update(
    *,
    form: WebForm,
    actor: User,
    data: dict,
    purposes: list[ConsentPurpose] | None = None,
    expected_version: int | None = None,
) -> WebForm:
    """Change a form; a stale `expected_version` changes nothing (StaleVersion)."""
    require_form_admin(actor)
    clean = _clean({k: v for k, v in data.items() if k in FORM_FIELDS}, current=form)
    with transaction.atomic():
        locked = WebForm.objects.select_for_update().get(pk=form.pk)
        if expected_version is not None and locked.version != expected_version:
            raise StaleVersion(locked.version)
        for key, value in clean.items():
            setattr(locked, key, value)
        locked.version += 1
        locked.save()
        if purposes is not None:
            locked.consent_purposes.set(purposes)
    return locked


def form_delete(*, form: WebForm, actor: User) -> None:
    require_form_admin(actor)
    form.delete()


# ----- submission ------------------------------------------------------------------------
@dataclass
class SubmitResult:
    submission: FormSubmission
    person: Contact | Lead
    visitor_token: str
    redirect_url: str


def _clean_values(form: WebForm, data) -> tuple[dict, dict, list[ConsentPurpose]]:
    """(record fields, custom fields, ticked purposes) or ValidationError keyed by field."""
    known = catalogue(form.target)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for spec in form.fields:
        key = spec["key"]
        field = known.get(key)
        if field is None:
            continue
        raw = data.get(key)
        raw = raw.strip() if isinstance(raw, str) else raw
        if field.kind == "checkbox":
            raw = raw in ("on", "1", "true", True)
        if spec.get("required") and raw in (None, "", False):
            errors[key] = [f"{spec['label']} is required"]
            continue
        if raw in (None, ""):
            continue
        if field.kind == "email":
            try:
                raw = email_normalise(raw, field=key)
            except ValidationError:
                errors[key] = ["Enter a valid email address"]
                continue
        if isinstance(raw, str) and len(raw) > 2000:
            errors[key] = ["This answer is too long"]
            continue
        if field.is_custom:
            custom[key.removeprefix("custom.")] = raw
        else:
            values[key] = raw
    purposes = []
    for purpose in form.consent_purposes.filter(active=True):
        if data.get(f"consent_{purpose.slug}") in ("on", "1", "true", True):
            purposes.append(purpose)
    if errors:
        raise ValidationError(errors)
    return values, custom, purposes


def _territory_owner(form: WebForm, values: dict) -> User | None:
    """Hook for territories (another branch): return the owner the territory rules pick for
    these values, or None to fall back to the form's user."""
    return None


def _assignee(form: WebForm, values: dict) -> User:
    if form.assign_mode == AssignMode.TERRITORY:
        return _territory_owner(form, values) or form.assign_user
    if form.assign_mode == AssignMode.ROUND_ROBIN and form.assign_team_id:
        locked = WebForm.objects.select_for_update().get(pk=form.pk)
        members = list(
            User.objects.filter(team_id=form.assign_team_id, is_active=True)
            .exclude(role=Role.READ_ONLY)
            .order_by("id")
        )
        if members:
            after = [
                m for m in members if locked.last_assigned_id and m.pk > locked.last_assigned_id
            ]
            chosen = (after or members)[0]
            WebForm.objects.filter(pk=form.pk).update(last_assigned_id=chosen.pk)
            return chosen
    return form.assign_user


def _norm_name(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def _same_person(values: dict, first: str, last: str) -> bool:
    """The form's names do not contradict the stored person (a missing part is no conflict)."""
    f, la = _norm_name(values.get("first_name")), _norm_name(values.get("last_name"))
    if la and _norm_name(last) and la != _norm_name(last):
        return False
    return not (f and _norm_name(first) and f != _norm_name(first))


def _matches(email: str, values: dict) -> tuple[list[Contact], list[Lead]]:
    """Contacts having the address (any of theirs) and open leads having it, whose names do
    not contradict the form's."""
    contact_ids = ContactEmail.objects.filter(email__iexact=email).values("contact_id")
    contacts = [
        c
        for c in Contact.objects.filter(pk__in=contact_ids).order_by("pk")
        if _same_person(values, c.first_name, c.last_name)
    ]
    leads = [
        lead
        for lead in Lead.objects.filter(email__iexact=email)
        .exclude(status=LeadStatus.CONVERTED)
        .order_by("pk")
        if _same_person(values, lead.first_name, lead.last_name)
    ]
    return contacts, leads


def _all_with_address(email: str) -> tuple[int, int]:
    contact_ids = ContactEmail.objects.filter(email__iexact=email).values("contact_id")
    return (
        Contact.objects.filter(pk__in=contact_ids).count(),
        Lead.objects.filter(email__iexact=email).exclude(status=LeadStatus.CONVERTED).count(),
    )


def _fill_blanks(record, values: dict, custom: dict) -> tuple[dict, dict]:
    """Only what the record lacks: an anonymous form never overwrites what staff recorded."""
    fields = {k: v for k, v in values.items() if k not in ("email",) and not getattr(record, k, "")}
    current = record.custom or {}
    extra = {k: v for k, v in custom.items() if current.get(k) in (None, "")}
    return fields, ({**current, **extra} if extra else {})


def _actor_for(record, fallback: User) -> User:
    owner = getattr(record, "owner", None)
    if owner is not None and owner.is_active and not owner.is_read_only:
        return owner
    return fallback


def _flag_duplicates(lead: Lead, others: list[int]) -> None:
    from rapport.duplicates.models import DuplicateCandidate

    now = timezone.now()
    for other in others:
        a, b = sorted((lead.pk, other))
        DuplicateCandidate.objects.get_or_create(
            object_type="lead",
            record_a_id=a,
            record_b_id=b,
            defaults={
                "score": 90,
                "reasons": ["same email (web form submission)"],
                "found_at": now,
                "scored_at": now,
            },
        )


def campaign_for(form: WebForm, utm: dict) -> Campaign | None:
    """The campaign named by utm_campaign, else the form's own campaign."""
    return campaign_by_utm(utm.get("utm_campaign")) or form.campaign


def _person_write(form, values, custom, owner, campaign) -> tuple[Any, str, str]:
    from rapport.accounts.services import contact_create, contact_update
    from rapport.leads.services import lead_create, lead_update

    email = values["email"]
    contacts, leads = _matches(email, values)
    n_contacts, n_leads = _all_with_address(email)
    lead_fields = {
        **{k: v for k, v in values.items() if k in {f.key for f in catalogue("lead").values()}},
        "source": form.lead_source,
        "campaign": (campaign.name if campaign else "")[:120],
    }
    if not lead_fields.get("last_name"):
        lead_fields["last_name"] = values.get("company") or email.split("@")[0]

    def new_lead(note: str = ""):
        lead = lead_create(actor=owner, owner=owner, fields=lead_fields, custom=custom)
        return lead, SubmissionOutcome.AMBIGUOUS if note else SubmissionOutcome.LEAD_CREATED, note

    ambiguous = len(contacts) > 1 or (not contacts and n_contacts > 0)
    if len(contacts) == 1:
        contact = contacts[0]
        fields, new_custom = _fill_blanks(contact, values, custom)
        fields = {
            k: v for k, v in fields.items() if k in {f.key for f in catalogue("contact").values()}
        }
        if fields or new_custom:
            contact_update(
                contact=contact,
                actor=_actor_for(contact, owner),
                fields=fields,
                custom=new_custom or None,
            )
        return contact, SubmissionOutcome.CONTACT_UPDATED, ""
    if ambiguous:
        note = (
            f"{n_contacts} contact(s) have {email} but the names on the form do not tell which; "
            "a new lead was created for review"
        )
        lead, outcome, note = new_lead(note)
        return lead, outcome, note
    if form.target == FormTarget.CONTACT:
        contact_values = {
            k: v for k, v in values.items() if k in {f.key for f in catalogue("contact").values()}
        }
        if not contact_values.get("last_name"):
            contact_values["last_name"] = email.split("@")[0]
        contact = contact_create(actor=owner, owner=owner, fields=contact_values, custom=custom)
        return contact, SubmissionOutcome.CONTACT_CREATED, ""
    if len(leads) == 1:
        lead = leads[0]
        fields, new_custom = _fill_blanks(lead, values, custom)
        if fields or new_custom:
            lead_update(
                lead=lead, actor=_actor_for(lead, owner), fields=fields, custom=new_custom or None
            )
        return lead, SubmissionOutcome.LEAD_UPDATED, ""
    if len(leads) > 1 or n_leads > 0:
        lead, outcome, _ = new_lead(
            f"{n_leads} open lead(s) already have {email}; flagged as possible duplicates"
        )
        others = Lead.objects.filter(email__iexact=email).exclude(pk=lead.pk)
        _flag_duplicates(lead, list(others.values_list("pk", flat=True)))
        return lead, SubmissionOutcome.AMBIGUOUS, f"{n_leads} open lead(s) already had {email}"
    return new_lead()


def form_submit(
    *,
    form: WebForm,
    data,
    ip: str | None = None,
    user_agent: str = "",
    landing_url: str = "",
    now: float | None = None,
) -> SubmitResult:
    """Accept one public submission. Raises SpamRejected (nothing written but the refusal)
    or ValidationError keyed by field (nothing written)."""
    if not form.is_active:
        raise spam.SpamRejected("form_closed", "This form no longer accepts answers.", 410)
    spam.check(form, data, ip, now=now)
    values, custom, purposes = _clean_values(form, data)
    utm = {k: str(data.get(k))[:200] for k in UTM_KEYS if data.get(k)}
    with transaction.atomic():
        campaign = campaign_for(form, utm)
        owner = _assignee(form, values)
        person, outcome, note = _person_write(form, values, custom, owner, campaign)
        kind = "contact" if isinstance(person, Contact) else "lead"
        for purpose in purposes:
            consent_record(
                person=person,
                channel=channel_for(purpose),
                purpose=purpose,
                action=ConsentAction.OPT_IN,
                source=ConsentSource.FORM,
                ip=ip,
                user_agent=user_agent,
                note=f"Web form {form.name}",
            )
        submission = FormSubmission.objects.create(
            form=form,
            submitted_at=timezone.now(),
            data={
                k: v for k, v in {**values, **{f"custom.{k}": v for k, v in custom.items()}}.items()
            },
            utm=utm,
            consents=[p.slug for p in purposes],
            outcome=outcome,
            contact=person if kind == "contact" else None,
            lead=person if kind == "lead" else None,
            campaign=campaign,
            review_note=note[:300],
            ip_address=ip,
            user_agent=user_agent[:500],
            landing_url=landing_url[:1000],
        )
        timeline_record(
            subject=person,
            kind=EventKind.FORM_SUBMITTED,
            summary=f"Submitted the web form {form.name}",
            payload={
                "form": form.slug,
                "form_id": form.pk,
                "submission_id": submission.pk,
                "outcome": outcome,
                "utm": utm,
                "consents": submission.consents,
            },
            campaign_id=campaign.pk if campaign else None,
        )
        emit(
            "form.submitted",
            subject=person,
            payload={
                "form": form.slug,
                "form_id": form.pk,
                "submission_id": submission.pk,
                "outcome": outcome,
                "campaign_id": campaign.pk if campaign else None,
                **utm,
            },
        )
    token = visitor_token(
        contact_id=person.pk if kind == "contact" else None,
        lead_id=person.pk if kind == "lead" else None,
    )
    return SubmitResult(submission, person, token, _redirect_with_token(form.redirect_url, token))


def _redirect_with_token(url: str, token: str) -> str:
    """The thank-you redirect carries the visitor token (read by /wt/t.js on the site)."""
    if not url or not redirect_allowed(url):
        return ""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}rpv={token}"
