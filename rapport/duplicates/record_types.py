"""The three record types duplicates are found among: their model, the fields a merge
chooses between, every row elsewhere that points at a record (and so moves to the survivor
of a merge), and how their comparison features are read from the database."""

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from django.apps import apps
from django.db.models import Model

from rapport.duplicates.matching import Features, account_features, person_features
from rapport.records.services import jsonable

CHUNK = 5000
SURVIVOR, MERGED = "survivor", "merged"

# Fields a merge offers a choice for (model attnames; `custom.<key>` are added per record).
# A lead's conversion state (status converted, converted_*) is never chosen: see merge.py.
MERGE_FIELDS: dict[str, tuple[str, ...]] = {
    "account": (
        "name",
        "website",
        "domain",
        "industry",
        "size",
        "annual_revenue",
        "currency",
        "parent_id",
        "street",
        "city",
        "region",
        "postal_code",
        "country",
        "shipping_street",
        "shipping_city",
        "shipping_region",
        "shipping_postal_code",
        "shipping_country",
        "description",
        "owner_id",
    ),
    "contact": (
        "first_name",
        "last_name",
        "title",
        "account_id",
        "email",
        "phone",
        "street",
        "city",
        "region",
        "postal_code",
        "country",
        "description",
        "owner_id",
    ),
    "lead": (
        "first_name",
        "last_name",
        "title",
        "email",
        "phone",
        "company",
        "website",
        "industry",
        "source",
        "campaign",
        "status",
        "street",
        "city",
        "region",
        "postal_code",
        "country",
        "description",
        "owner_id",
    ),
}

# Foreign keys whose rows move from the merged record to the survivor, by plain UPDATE of
# that column (recorded id by id for undo). "app_label.Model.field".
MOVED_FKS: dict[str, tuple[str, ...]] = {
    "account": (
        "accounts.Contact.account",
        "accounts.Account.parent",
        "activities.Activity.account",
        "orders.Order.account",
        "sales.Opportunity.account",
        "leads.Lead.converted_account",
        "timeline.TimelineEvent.account",
        "mail.MessageLink.account",
        "files.StoredFile.account",
        "cases.Case.account",
        "assets.Asset.account",
        "fieldservice.WorkOrder.account",
        "returns.ReturnRequest.account",
        "surveys.SurveyInvitation.account",
    ),
    "contact": (
        "activities.Activity.contact",
        "orders.Order.contact",
        "sales.Opportunity.primary_contact",
        "leads.Lead.converted_contact",
        "timeline.TimelineEvent.contact",
        "mail.MessageLink.contact",
        "files.StoredFile.contact",
        "webhooks.InboundEvent.contact",
        "cases.Case.contact",
        "assets.Asset.contact",
        "fieldservice.WorkOrder.contact",
        "returns.ReturnRequest.contact",
        "surveys.SurveyInvitation.contact",
        "webforms.FormSubmission.contact",
        "webtrack.WebSession.contact",
    ),
    "lead": (
        "activities.Activity.lead",
        "timeline.TimelineEvent.lead",
        "mail.MessageLink.lead",
        "files.StoredFile.lead",
        "webforms.FormSubmission.lead",
        "webtrack.WebSession.lead",
    ),
}

# Relations merged by their own rules (unique constraints): a contact's emails and phones
# are united, meeting attendances move unless the survivor already attends.
SPECIAL: dict[str, tuple[str, ...]] = {
    "account": (),
    "contact": (
        "accounts.ContactEmail.contact",
        "accounts.ContactPhone.contact",
        "activities.Activity.attendee_contacts",
        "segments.SegmentMember.contact",  # static lists move; filter memberships recompute
        "sequences.Enrolment.contact",  # move, unless both are open in one sequence (stopped)
    ),
    "lead": ("sequences.Enrolment.lead",),
}

# Relations that stay with the merged record, and why.
_SCORES = (
    "derived scores; the next analytics refresh recomputes the survivor's from the moved "
    "orders (a one-to-one row cannot move onto a survivor that has one)"
)
_SEARCH = "the record's own full-text index row, kept in step with it by database triggers"
_CONSENT = (
    "the consent ledger is append-only proof of what this person said, when and where; it "
    "stays as given. The merge adds the merged contact's opt-outs to the survivor as new "
    "ledger rows (services/merge.py _carry_opt_outs); opt-ins are not carried (ask again)"
)
_LIFECYCLE = "derived from orders and scores; the next pass recomputes the survivor's stage"
LEFT_BEHIND: dict[str, dict[str, str]] = {
    "account": {
        "analytics.CustomerScore.account": _SCORES,
        "search.AccountDocument.record": _SEARCH,
        "portal.PortalAccountSetting.account": (
            "the account's portal setting (one per account): the survivor keeps its own"
        ),
        "cases.AccountServiceTier.account": (
            "an agent's manual service tier for this account: the survivor keeps its own "
            "(or the tier derived from its merged orders); set it again if needed"
        ),
    },
    "contact": {
        "analytics.CustomerScore.contact": _SCORES,
        "search.ContactDocument.record": _SEARCH,
        "consent.ConsentRecord.contact": _CONSENT,
        "consent.ConsentState.contact": _CONSENT,
        "segments.ContactLifecycle.contact": _LIFECYCLE,
        "segments.LifecycleChange.contact": _LIFECYCLE,
        "campaigns.CampaignRecipient.contact": (
            "the record of what one campaign sent to this address (one row per campaign and "
            "contact, proof of the send); the survivor keeps its own rows, the timeline moves"
        ),
        "portal.PortalUser.contact": (
            "a portal login is one per contact and tied to its email address; the survivor "
            "keeps its own (invite it if it has none); the merged contact's login shows nothing"
        ),
        "knowledge.ArticleVote.contact": (
            "a knowledge-base vote given through the portal; articles count votes, not people, "
            "so moving it would change nothing but could collide with the survivor's own vote"
        ),
    },
    "lead": {
        "search.LeadDocument.record": _SEARCH,
        "scoring.LeadScore.lead": _SCORES,
        "consent.ConsentRecord.lead": _CONSENT,
        "consent.ConsentState.lead": _CONSENT,
    },
}


def model_for(object_type: str) -> type[Model]:
    from rapport.records.visibility import owned_record_models

    return owned_record_models()[object_type]


def field_of(path: str):
    """("app.Model.field") → (model, field)."""
    app_label, model_name, field_name = path.split(".")
    model = apps.get_model(app_label, model_name)
    return model, model._meta.get_field(field_name)


def relations_pointing_at(object_type: str) -> set[str]:
    """Every relation in the project that points at the record type ("app.Model.field"),
    hidden ones (related_name="+") included: the test that keeps MOVED_FKS complete."""
    model = model_for(object_type)
    found = set()
    for rel in model._meta.get_fields(include_hidden=True):
        if rel.auto_created and not rel.concrete and rel.is_relation:
            remote = rel.remote_field  # the field on the other model
            owner = remote.model
            if owner._meta.auto_created:
                continue  # a many-to-many's through table: listed by its field instead
            found.add(f"{owner._meta.app_label}.{owner.__name__}.{remote.name}")
    return found


# ----- field values ---------------------------------------------------------------------


def is_blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def field_value(record: Model, name: str) -> Any:
    if name.startswith("custom."):
        return (record.custom or {}).get(name.removeprefix("custom."))
    return getattr(record, name)


def merge_fields(object_type: str, *records: Model) -> list[str]:
    """The fields a merge of these records chooses between: the type's fields, then the
    custom values either record has (`custom.<key>`)."""
    keys = sorted({k for r in records for k in (r.custom or {})})
    return [*MERGE_FIELDS[object_type], *(f"custom.{k}" for k in keys)]


def differing_fields(object_type: str, a: Model, b: Model) -> list[str]:
    """Fields whose values differ (blank and missing count as equal)."""
    out = []
    for name in merge_fields(object_type, a, b):
        va, vb = field_value(a, name), field_value(b, name)
        if not (is_blank(va) and is_blank(vb)) and jsonable(va) != jsonable(vb):
            out.append(name)
    return out


def default_choice(survivor: Model, merged: Model, name: str) -> str:
    """The survivor's value wins, except that its blanks are filled from the merged record."""
    if is_blank(field_value(survivor, name)) and not is_blank(field_value(merged, name)):
        return MERGED
    return SURVIVOR


# ----- comparison features ------------------------------------------------------------------


def _chunks(ids: Iterable[int], size: int = CHUNK) -> Iterator[list[int]]:
    batch: list[int] = []
    for pk in ids:
        batch.append(pk)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _secondary(model_label: str, value: str, ids: list[int]) -> dict[int, list[str]]:
    model = apps.get_model(model_label)
    out: dict[int, list[str]] = defaultdict(list)
    rows = model.objects.filter(contact_id__in=ids, is_primary=False).values_list(
        "contact_id", value
    )
    for contact_id, item in rows:
        out[contact_id].append(item)
    return out


def _contact_features(rows: list[tuple]) -> list[Features]:
    ids = [r[0] for r in rows]
    emails = _secondary("accounts.ContactEmail", "email", ids)
    phones = _secondary("accounts.ContactPhone", "number", ids)
    return [
        person_features(
            id=pk,
            first_name=first,
            last_name=last,
            emails=[e for e in (email, *emails.get(pk, ())) if e],
            phones=[p for p in (phone, *phones.get(pk, ())) if p],
            city=city,
            company=domain,
        )
        for pk, first, last, email, phone, city, domain in rows
    ]


def _lead_features(rows: list[tuple]) -> list[Features]:
    return [
        person_features(
            id=pk,
            first_name=first,
            last_name=last,
            emails=[email] if email else [],
            phones=[phone] if phone else [],
            city=city,
            company=website,
        )
        for pk, first, last, email, phone, city, website in rows
    ]


def _account_features(rows: list[tuple]) -> list[Features]:
    return [
        account_features(id=pk, name=name, domain=domain, website=website, city=city)
        for pk, name, domain, website, city in rows
    ]


_COLUMNS = {
    "contact": (
        ("id", "first_name", "last_name", "email", "phone", "city", "account__domain"),
        _contact_features,
    ),
    "lead": (
        ("id", "first_name", "last_name", "email", "phone", "city", "website"),
        _lead_features,
    ),
    "account": (("id", "name", "domain", "website", "city"), _account_features),
}


def features_chunks(object_type: str) -> Iterator[list[Features]]:
    """Features of every active record of a type, 5,000 at a time in id order (memory and
    transactions stay small)."""
    columns, build = _COLUMNS[object_type]
    base = model_for(object_type).objects.order_by("id").values_list(*columns)
    last = 0
    while True:
        rows = list(base.filter(id__gt=last)[:CHUNK])
        if not rows:
            return
        yield build(rows)
        last = rows[-1][0]


def features_iter(object_type: str, ids: Iterable[int] | None = None) -> Iterator[Features]:
    """Features of the active records of a type (all of them, or those of `ids`)."""
    if ids is None:
        for chunk in features_chunks(object_type):
            yield from chunk
        return
    columns, build = _COLUMNS[object_type]
    base = model_for(object_type).objects.order_by("id").values_list(*columns)
    for batch in _chunks(sorted(set(ids))):
        yield from build(list(base.filter(id__in=batch)))


def methods_of(fields: dict) -> tuple[list[str], list[str]]:
    """The emails and phones of a payload: `email` / `phone` and the `emails` / `phones`
    lists (of strings, or of {"email"} / {"number"} objects as the contact API takes)."""

    def values(single: str, many: str, key: str) -> list[str]:
        items = [fields.get(single)] + [
            item.get(key) if isinstance(item, dict) else item for item in fields.get(many) or []
        ]
        return [str(item) for item in items if item]

    return values("email", "emails", "email"), values("phone", "phones", "number")


def features_from_fields(object_type: str, fields: dict, pk: int = 0) -> Features:
    """Features of a record that is not saved yet (the create-time check)."""
    if object_type == "account":
        return account_features(
            id=pk,
            name=fields.get("name"),
            domain=fields.get("domain"),
            website=fields.get("website"),
            city=fields.get("city"),
        )
    emails, phones = methods_of(fields)
    return person_features(
        id=pk,
        first_name=fields.get("first_name"),
        last_name=fields.get("last_name"),
        emails=emails,
        phones=phones,
        city=fields.get("city"),
        company=fields.get("company_domain") or fields.get("website") or fields.get("domain"),
    )
