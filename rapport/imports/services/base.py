"""What every object importer shares: the batch interface the runner calls and bulk
helpers for tags and timeline events."""

from collections import Counter

from django.db.models import Model
from django.db.models.functions import Lower, Upper
from django.utils import timezone

from rapport.accounts.models import ContactEmail
from rapport.identity.models import User
from rapport.imports.models import ImportJob
from rapport.imports.services.bulk_sql import BulkInsert, where_in
from rapport.imports.services.cleaning import Row
from rapport.imports.services.mapping import Target
from rapport.records.models import Tag
from rapport.timeline.hooks import events_written
from rapport.timeline.models import EventKind, TimelineEvent

NOT_EDITABLE = "Matches a record you cannot change"


def contact_ids_by_email(uppers) -> dict[str, int]:
    """The contact each email belongs to, case-insensitively: upper-cased address (as
    `emails_upper` gives it, the form the contactemail_email_upper index holds) → the id of
    the oldest contact not deleted that has it, as any of its emails. Orders and assets
    name their customer this way; deleted contacts never take a row."""
    found: dict[str, int] = {}
    if uppers:
        for upper, pk in (
            ContactEmail.objects.annotate(upper=Upper("email"))
            .filter(where_in("upper", set(uppers)), contact__deleted_at__isnull=True)
            .order_by("-contact_id")  # the oldest wins
            .values_list("upper", "contact_id")
        ):
            found[upper] = pk
    return found


class Importer:
    """Imports one object type batch by batch. `process` decides each row's outcome
    (created, updated, unchanged, skipped, failed with issues) and writes; the runner calls
    it inside one transaction per batch. A dry run is the same code, rolled back by the
    runner: an importer never knows, so the dry run cannot predict anything else."""

    def __init__(self, *, job: ImportJob, actor: User, policy: str, targets: dict):
        self.job = job
        self.actor = actor
        self.policy = policy
        self.targets: dict[str, Target] = targets
        self.extra: Counter = Counter()
        self._owners: dict[str, User | None] = {}
        self.required_custom = sorted(
            t.custom.key for t in targets.values() if t.custom is not None and t.custom.required
        )

    def column(self, field: str) -> str:
        """The file's column mapped to `field` (a full name stands for the last name)."""
        for header, key in self.job.mapping.items():
            if key == field or (field == "last_name" and key == "full_name"):
                return header
        return ""

    def resolve_owners(self, rows: list[Row]) -> None:
        """Owner cells name an active user by username or email: one query per batch for
        the names not seen yet; an unknown name fails its row."""
        wanted = {
            r.values["owner"].strip().lower()
            for r in rows
            if isinstance(r.values.get("owner"), str)
        }
        unknown = wanted - set(self._owners)
        if unknown:
            self._owners.update(dict.fromkeys(unknown))
            users = (
                User.objects.annotate(u=Lower("username"), e=Lower("email"))
                .filter(where_in("u", unknown) | where_in("e", unknown), is_active=True)
                .select_related("team")
                .order_by("-id")  # the oldest wins below
            )
            for user in users:
                for key in (user.u, user.e):
                    if key in unknown:
                        self._owners[key] = user
        for row in rows:
            text = row.values.get("owner")
            if not isinstance(text, str):
                continue
            owner = self._owners.get(text.strip().lower())
            if owner is None:
                del row.values["owner"]
                row.fail(
                    f"No active user with the username or email {text!r}",
                    "invalid_owner",
                    self.column("owner"),
                    "owner",
                )
            else:
                row.values["owner"] = owner

    def keys(self, row: Row) -> tuple:
        """Values that identify the row's record: two rows sharing one are never in the same
        batch, so the second finds what the first wrote."""
        return ()

    def process(self, rows: list[Row]) -> None:
        raise NotImplementedError

    def summary(self, label: str) -> str:
        return f"Created {label} (import #{self.job.pk})"[:300]


def tags_bulk_set(model: type[Model], tags_by_record: dict[int, list[str]], *, replace: bool):
    """Give each record exactly these tags (creating missing Tag rows): a few queries for
    the whole batch."""
    if not tags_by_record:
        return
    names = {n for names in tags_by_record.values() for n in names}
    existing = dict(Tag.objects.filter(where_in("name", names)).values_list("name", "pk"))
    missing = [Tag(name=n) for n in sorted(names - set(existing))]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = dict(Tag.objects.filter(where_in("name", names)).values_list("name", "pk"))
    through = model.tags.through
    fk = f"{model._meta.model_name}_id"
    if replace:
        through.objects.filter(**{f"{fk}__in": list(tags_by_record)}).delete()
    through.objects.bulk_create(
        [
            through(**{fk: pk, "tag_id": existing[name]})
            for pk, names in tags_by_record.items()
            for name in names
        ],
        ignore_conflicts=True,
    )


def current_tags(model: type[Model], ids) -> dict[int, list[str]]:
    through = model.tags.through
    fk = f"{model._meta.model_name}_id"
    out: dict[int, list[str]] = {}
    for pk, name in through.objects.filter(where_in(fk, ids)).values_list(fk, "tag__name"):
        out.setdefault(pk, []).append(name)
    return {pk: sorted(names) for pk, names in out.items()}


def event(
    *, kind: str, actor: User, summary: str, payload: dict, occurred_at=None, **links: int | None
) -> dict:
    """A timeline event as column values, for `events_insert`."""
    values = {
        "kind": kind,
        "actor_id": actor.pk,
        "occurred_at": occurred_at or timezone.now(),
        "summary": summary[:300],
        "payload": payload,
    }
    values.update({k: v for k, v in links.items() if v is not None})
    return values


def events_insert(events: list[dict]) -> None:
    if events:
        BulkInsert(TimelineEvent).insert(events)
        events_written(events)


__all__ = [
    "EventKind",
    "Importer",
    "current_tags",
    "event",
    "events_insert",
    "tags_bulk_set",
]
