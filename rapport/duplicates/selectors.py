"""Reads of the duplicates app, always through record visibility: a user sees a pair (or a
merge) only when they may see both records (the survivor, for a merge)."""

from collections import defaultdict
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from rapport.duplicates.matching import MIN_SCORE, OBJECT_TYPES, blocking_keys, score
from rapport.duplicates.models import CandidateStatus, DuplicateCandidate, DuplicateKey, MergeLog
from rapport.duplicates.record_types import (
    MOVED_FKS,
    differing_fields,
    features_from_fields,
    features_iter,
    field_of,
    field_value,
    merge_fields,
    methods_of,
    model_for,
)
from rapport.identity.models import User
from rapport.records.exceptions import Conflict, RecordNotFound
from rapport.records.models import OwnedRecord, RecordShare
from rapport.records.services import jsonable
from rapport.records.visibility import visible

CANDIDATE_SORTS = {"score", "found_at"}
MERGE_SORTS = {"at"}


def _active(user: User | None) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def _sees(model, user: User, ref: str, include_deleted: bool) -> Exists:
    base = model.all_objects if include_deleted else model.objects
    return Exists(visible(base.filter(pk=OuterRef(ref)).values("pk"), user))


def candidates_visible_to(
    user: User, *, object_type: str | None = None, include_deleted: bool = False
) -> QuerySet[DuplicateCandidate]:
    """Pairs whose two records the user may see (and, unless `include_deleted`, both still
    active). One correlated EXISTS per record: the queue pages by score without first
    listing every visible record."""
    if not _active(user):
        return DuplicateCandidate.objects.none()
    types = [object_type] if object_type else list(OBJECT_TYPES)
    cond = Q(pk__in=[])
    for t in types:
        model = model_for(t)
        cond |= (
            Q(object_type=t)
            & _sees(model, user, "record_a_id", include_deleted)
            & _sees(model, user, "record_b_id", include_deleted)
        )
    return DuplicateCandidate.objects.filter(cond)


def candidate_list(
    *,
    user: User,
    object_type: str | None = None,
    status: str = CandidateStatus.OPEN,
    min_score: int = 0,
    record_id: int | None = None,
) -> QuerySet[DuplicateCandidate]:
    """The review queue: visible pairs of a status (a merged pair's loser is in the trash,
    so merged pairs are listed with deleted records)."""
    qs = candidates_visible_to(
        user, object_type=object_type, include_deleted=status == CandidateStatus.MERGED
    ).filter(status=status)
    if min_score:
        qs = qs.filter(score__gte=min_score)
    if record_id is not None:
        qs = qs.filter(Q(record_a_id=record_id) | Q(record_b_id=record_id))
    return qs


def candidate_get_for_user(*, pk: int, user: User) -> DuplicateCandidate:
    """The pair if the user may see both of its records (a merged pair's loser is in the
    trash), else RecordNotFound."""
    try:
        return candidates_visible_to(user, include_deleted=True).get(pk=pk)
    except (DuplicateCandidate.DoesNotExist, ValueError, TypeError, OverflowError):
        raise RecordNotFound("duplicate")


def records_of(pairs: list[tuple[str, int]]) -> dict[tuple[str, int], OwnedRecord]:
    """The records of (object_type, id) pairs, one query per type (the caller has checked
    visibility)."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for object_type, pk in pairs:
        wanted[object_type].add(pk)
    out = {}
    for object_type, ids in wanted.items():
        for record in model_for(object_type).all_objects.filter(pk__in=ids):
            out[(object_type, record.pk)] = record
    return out


def attach_records(candidates: list[DuplicateCandidate]) -> list[DuplicateCandidate]:
    """Set `record_a` / `record_b` on each pair, loaded in bulk (no N+1)."""
    records = records_of(
        [(c.object_type, pk) for c in candidates for pk in (c.record_a_id, c.record_b_id)]
    )
    for c in candidates:
        c.record_a = records.get((c.object_type, c.record_a_id))
        c.record_b = records.get((c.object_type, c.record_b_id))
    return candidates


def record_summary(object_type: str, record: OwnedRecord | None) -> dict[str, Any] | None:
    """What a queue row shows of a record."""
    if record is None:
        return None
    return {
        "id": record.pk,
        "label": str(record),
        "email": getattr(record, "email", ""),
        "phone": getattr(record, "phone", ""),
        "city": record.city,
        "domain": getattr(record, "domain", "") or getattr(record, "website", ""),
        "owner_id": record.owner_id,
        "version": record.version,
        "deleted": record.deleted_at is not None,
    }


def related_counts(object_type: str, record: OwnedRecord) -> dict[str, int]:
    """How many rows point at the record, per relation a merge moves."""
    counts = {}
    for path in MOVED_FKS[object_type]:
        model, fk = field_of(path)
        counts[path] = model._base_manager.filter(**{fk.attname: record.pk}).count()
    counts["records.RecordShare.object_id"] = RecordShare.objects.filter(
        object_type=object_type, object_id=record.pk
    ).count()
    if object_type == "contact":
        counts["activities.Activity.attendee_contacts"] = record.meetings_attended.count()
    return counts


def record_detail(object_type: str, record: OwnedRecord) -> dict[str, Any]:
    """Every field a merge chooses between, with tags (and a contact's emails and phones)."""
    data: dict[str, Any] = {
        "id": record.pk,
        "label": str(record),
        "version": record.version,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "deleted_at": record.deleted_at,
    }
    for name in merge_fields(object_type, record):
        data[name] = jsonable(field_value(record, name))
    data["tags"] = sorted(t.name for t in record.tags.all())
    if object_type == "contact":
        data["emails"] = list(record.emails.values("email", "kind", "is_primary"))
        data["phones"] = list(record.phones.values("number", "kind", "is_primary"))
    return data


def pair_compare(object_type: str, a: OwnedRecord, b: OwnedRecord) -> dict[str, Any]:
    """Two records side by side: their fields, which differ, and what points at each."""
    differ = differing_fields(object_type, a, b)
    return {
        "object_type": object_type,
        "record_a": record_detail(object_type, a),
        "record_b": record_detail(object_type, b),
        "fields": [
            {
                "name": name,
                "a": jsonable(field_value(a, name)),
                "b": jsonable(field_value(b, name)),
                "differs": name in differ,
            }
            for name in merge_fields(object_type, a, b)
        ],
        "differing": differ,
        "related": {
            "a": related_counts(object_type, a),
            "b": related_counts(object_type, b),
        },
    }


def record_get_for_merge(*, object_type: str, pk: int, user: User) -> OwnedRecord:
    """An active record of the type that the user may see, else RecordNotFound."""
    model = model_for(object_type)
    try:
        return visible(model.objects.all(), user).get(pk=pk)
    except (model.DoesNotExist, ValueError, TypeError, OverflowError):
        raise RecordNotFound(model._meta.verbose_name)


# ----- merge logs -------------------------------------------------------------------------


def merge_logs_visible_to(user: User, *, object_type: str | None = None) -> QuerySet[MergeLog]:
    """Merges whose survivor (active or not) the user may see."""
    if not _active(user):
        return MergeLog.objects.none()
    cond = Q(pk__in=[])
    for t in [object_type] if object_type else list(OBJECT_TYPES):
        cond |= Q(object_type=t) & _sees(model_for(t), user, "survivor_id", True)
    return MergeLog.objects.filter(cond)


def merge_log_list(
    *, user: User, object_type: str | None = None, record_id: int | None = None
) -> QuerySet[MergeLog]:
    qs = merge_logs_visible_to(user, object_type=object_type)
    if record_id is not None:
        qs = qs.filter(Q(survivor_id=record_id) | Q(merged_id=record_id))
    return qs


def merge_log_get_for_user(*, pk: int, user: User) -> MergeLog:
    try:
        return merge_logs_visible_to(user).get(pk=pk)
    except (MergeLog.DoesNotExist, ValueError, TypeError, OverflowError):
        raise RecordNotFound("merge")


# ----- the create-time check ---------------------------------------------------------------


class PossibleDuplicate(Conflict):
    """A record about to be created looks like existing ones (409 possible_duplicate)."""

    def __init__(self, matches: list[dict[str, Any]]):
        listed = "; ".join(
            f"{m['record']['label']} (id {m['id']}, score {m['score']}: {', '.join(m['reasons'])})"
            for m in matches[:3]
        )
        super().__init__(f"Looks like an existing record: {listed}", code="possible_duplicate")
        self.matches = matches


def _normalised(values: list[str], normalise) -> list[str]:
    from django.core.exceptions import ValidationError

    out = []
    for value in values:
        try:
            out.append(normalise(value))
        except ValidationError:
            continue
    return out


def _name_variants(name: str) -> list[str]:
    name = " ".join(name.split())
    return sorted({name, name.title(), name.lower(), name.upper()} - {""})


def _direct_matches(object_type: str, fields: dict[str, Any], f) -> set[int]:
    """Records matching exactly on an indexed column (email, phone, domain, or a contact's
    last name / an account's name as typed or capitalised): finds records created since
    the last detection run filed their keys, at the cost of a few index lookups."""
    from rapport.accounts.contact_methods import email_normalise, phone_normalise

    model = model_for(object_type)
    base = model.objects.order_by()
    ids: set[int] = set()
    if object_type == "account":
        cond = Q(name__in=_name_variants(fields.get("name") or ""))
        if f.domain:
            cond |= Q(domain=f.domain)
        ids.update(base.filter(cond).values_list("pk", flat=True)[:50])
        return ids
    emails, phones = methods_of(fields)
    emails = _normalised(emails, email_normalise)
    phones = _normalised(phones, phone_normalise)
    cond = Q(email__in=emails) | Q(phone__in=phones)
    if object_type == "contact":
        from rapport.accounts.models import ContactEmail, ContactPhone

        # Contacts are indexed by (last_name, first_name); leads by email and phone only.
        cond |= Q(last_name__in=_name_variants(fields.get("last_name") or ""))
        for method_model, column, values in (
            (ContactEmail, "email", emails),
            (ContactPhone, "number", phones),
        ):
            if values:
                rows = method_model.objects.order_by().filter(**{f"{column}__in": values})
                ids.update(rows.values_list("contact_id", flat=True)[:50])
    ids.update(base.filter(cond).values_list("pk", flat=True)[:50])
    return ids


def duplicates_check(
    *,
    user: User,
    object_type: str,
    fields: dict[str, Any],
    exclude_id: int | None = None,
    min_score: int = MIN_SCORE,
    limit: int = 10,
) -> list[dict[str, Any]]:
    """Visible records that look like the given (unsaved) one, best first, with score and
    reasons: what a form or an API client shows before saving."""
    fields = dict(fields)
    if object_type == "contact" and fields.get("account_id") and not fields.get("company_domain"):
        account = visible(model_for("account").objects.filter(pk=fields["account_id"]), user)
        fields["company_domain"] = next(iter(account.values_list("domain", flat=True)), "")
    probe = features_from_fields(object_type, fields)
    keys = blocking_keys(object_type, probe)
    ids = set(
        DuplicateKey.objects.filter(object_type=object_type, value__in=sorted(keys)).values_list(
            "record_id", flat=True
        )[:500]
    )
    ids |= _direct_matches(object_type, fields, probe)
    ids.discard(exclude_id)
    model = model_for(object_type)
    seen = list(visible(model.objects.filter(pk__in=ids), user).values_list("pk", flat=True))
    scored = []
    for f in features_iter(object_type, seen):
        value, reasons = score(object_type, probe, f)
        if value >= min_score:
            scored.append((value, f.id, reasons))
    scored.sort(key=lambda s: (-s[0], s[1]))
    top = scored[:limit]
    records = records_of([(object_type, pk) for _, pk, _ in top])
    return [
        {
            "id": pk,
            "score": value,
            "reasons": reasons,
            "record": record_summary(object_type, records[(object_type, pk)]),
        }
        for value, pk, reasons in top
    ]


def duplicate_warning(*, user: User, object_type: str, fields: dict[str, Any]) -> None:
    """Raise PossibleDuplicate (409) when the record about to be created looks like a visible
    one: for create endpoints that offer a `check_duplicates` switch."""
    matches = duplicates_check(user=user, object_type=object_type, fields=fields, limit=5)
    if matches:
        raise PossibleDuplicate(matches)
