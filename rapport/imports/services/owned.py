"""Bulk import of accounts, contacts and leads, the high-volume records (the types are in
accounts.py, contacts.py and leads.py; this is what they share).

Per batch, a constant number of queries: matching on the natural keys (contacts and leads:
normalised email, then E.164 phone without merging two people, see match_person;
accounts: domain, then exact name), one edit-rights query for the matches, then multi-row inserts (bulk_sql.py) of the new records with their
emails, phones, tags and one `created` timeline event each.

Updates have the services' versioned semantics without their per-row cost: only the
fields that differ are written, with `UPDATE … WHERE id = ? AND version = ?` that bumps
the version (a record changed by someone else meanwhile is reported, not overwritten), and
one `updated` event (and `owner_changed` when the owner changes) with the old and new
values. Empty cells never clear a field.
"""

from typing import Any

from django.db.models import F
from django.utils import timezone

from rapport.accounts.contact_methods import emails_upper
from rapport.imports.services.base import (
    NOT_EDITABLE,
    EventKind,
    Importer,
    current_tags,
    event,
    events_insert,
    tags_bulk_set,
)
from rapport.imports.services.bulk_sql import BulkInsert, pairs_where_in, where_in
from rapport.imports.services.cleaning import Row
from rapport.records.models import OwnedRecord
from rapport.records.services import jsonable
from rapport.records.visibility import editable


def _name(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def same_person(row: Row, first: str, last: str) -> bool | None:
    """Whether the row names the stored person: None when the row gives no name; every
    name part the row gives must equal the stored one (case and spacing aside), a first
    name the record lacks excepted."""
    row_first, row_last = _name(row.values.get("first_name")), _name(row.values.get("last_name"))
    if not row_first and not row_last:
        return None
    if row_last and row_last != _name(last):
        return False
    if row_first and _name(first) and row_first != _name(first):
        return False
    return not (not row_last and not _name(first))


AMBIGUOUS = "ambiguous_match"


def match_person(
    rows: list[Row],
    *,
    model,
    emails_sql: str,
    email_column: str,
    phones_sql: str,
    phone_column: str,
) -> dict[int, list[int]]:
    """Row number → the one record (contact, lead) the row is about, never a different
    person: its email decides, compared case-insensitively as `UPPER(email)` (the form the
    functional indexes serve; `emails_sql` selects that form and its id, `email_column` is
    the UPPER expression), so a row finds a record whose address differs only in case,
    whichever was written first (in an earlier run or by an earlier row of the file); a
    phone alone, which a switchboard or a family shares, only for a row without email, or
    when the names agree too. Several records
    that fit equally fail the row as ambiguous (nothing is written for it); a phone whose
    records all bear other names matches nothing (a new person). Three queries per batch."""
    by_email: dict[str, set[int]] = {}
    upper_of = emails_upper({r.values["email"] for r in rows if r.values.get("email")})
    for upper, pk in pairs_where_in(emails_sql, email_column, set(upper_of.values())):
        by_email.setdefault(upper, set()).add(pk)
    phones = {
        r.values["phone"]
        for r in rows
        if r.values.get("phone") and upper_of.get(r.values.get("email")) not in by_email
    }
    by_phone: dict[str, set[int]] = {}
    for number, pk in pairs_where_in(phones_sql, phone_column, phones):
        by_phone.setdefault(number, set()).add(pk)
    # Names are read for the records that need telling apart.
    need = {pk for ids in by_phone.values() for pk in ids}
    need |= {pk for ids in by_email.values() if len(ids) > 1 for pk in ids}
    names: dict[int, tuple[str, str]] = {}
    if need:
        for pk, first, last in model._base_manager.filter(where_in("pk", need)).values_list(
            "pk", "first_name", "last_name"
        ):
            names[pk] = (first, last)
    out: dict[int, list[int]] = {}
    for row in rows:
        email = row.values.get("email", "")
        phone = row.values.get("phone", "")
        found = by_email.get(upper_of.get(email))
        how = "email"
        if not found and phone in by_phone:
            found, how = by_phone[phone], "phone"
        if not found:
            continue
        ids = sorted(found)
        if len(ids) > 1 or how == "phone":
            verdicts = {pk: same_person(row, *names.get(pk, ("", ""))) for pk in ids}
            named = [pk for pk in ids if verdicts[pk]]
            if how == "phone" and email and not named:
                continue  # a new email and no name in common: another person on that line
            if named:
                ids = named
            elif how == "phone" and all(v is False for v in verdicts.values()):
                continue  # every record on that line is someone else
        if len(ids) > 1:
            key = email.lower() if how == "email" else phone
            row.fail(
                f"Ambiguous: {len(ids)} {model._meta.verbose_name_plural} have the {how} {key}"
                " and nothing in the row tells which one it is (add an email or the names); "
                "the row was not imported",
                AMBIGUOUS,
                "",
                how,
            )
            continue
        out[row.number] = ids
    return out


class OwnedImporter(Importer):
    model: type[OwnedRecord]
    own_link: str  # the TimelineEvent FK of this record type
    plain_fields: tuple[str, ...] = ()

    # ----- hooks ---------------------------------------------------------------------------

    def match(self, rows: list[Row]) -> dict[int, list[int]]:
        """Row number → ids of the existing (not deleted) records it matches, best first."""
        raise NotImplementedError

    def prepare(self, row: Row) -> None:
        """Normalise/derive values before matching (fail the row when they are wrong)."""

    def create_fields(self, row: Row) -> dict[str, Any]:
        return {k: v for k, v in row.values.items() if k in self.plain_fields}

    def create_problem(self, row: Row) -> tuple[str, str, str] | None:
        """(message, code, field) when the row cannot create a record."""
        if not row.values.get("last_name") and "last_name" in self.plain_fields:
            return (
                "A last name (or a full name) is needed to create a record",
                "required",
                "last_name",
            )
        return None

    def link(self, rows: list[Row]) -> None:
        """Resolve links to other records (the contact's account …) into the rows' values;
        fail the rows whose linked record cannot be found."""

    def state_fields(self) -> tuple[str, ...]:
        return self.plain_fields

    def extra_changes(self, row: Row, state: dict) -> dict[str, Any]:
        return {}

    def after_create(self, rows: list[Row], records: list[dict]) -> None:
        pass

    def after_update(self, rows: list[Row], states: dict[int, dict]) -> None:
        pass

    def label(self, fields: dict) -> str:
        return f"{fields.get('first_name', '')} {fields.get('last_name', '')}".strip()

    def links_of(self, pk: int, fields: dict) -> dict[str, int | None]:
        return {f"{self.own_link}_id": pk}

    # ----- the batch -------------------------------------------------------------------------

    def process(self, rows: list[Row]) -> None:
        for row in rows:
            if not row.outcome:
                self.prepare(row)
        valid = [r for r in rows if not r.outcome]
        matches = self.match(valid) if self.policy != "create" and valid else {}
        for row in valid:
            for issue in row.issues if row.outcome else ():  # ambiguous matches fail
                issue.column = issue.column or self.column(issue.field)
        valid = [r for r in valid if not r.outcome]
        candidates = {pk for ids in matches.values() for pk in ids}
        editable_ids = set()
        if candidates and self.policy == "update":
            editable_ids = set(
                editable(
                    self.model.objects.filter(where_in("pk", candidates)), self.actor
                ).values_list("pk", flat=True)
            )
        creates: list[Row] = []
        updates: list[Row] = []
        for row in valid:
            found = matches.get(row.number)
            if not found:
                problem = self.create_problem(row) or self._custom_problem(row, {})
                if problem:
                    message, code, field = problem
                    row.fail(message, code, self.column(field), field)
                else:
                    creates.append(row)
            elif self.policy == "skip":
                row.outcome = "skipped"
                row.record_id = found[0]
            else:
                mine = [pk for pk in found if pk in editable_ids]
                if not mine:
                    row.fail(NOT_EDITABLE, "not_editable")
                else:
                    row.record_id = mine[0]
                    updates.append(row)
        self.link(creates + updates)
        creates = [r for r in creates if not r.outcome]
        updates = [r for r in updates if not r.outcome]
        states = self._states({r.record_id for r in updates})
        for row in updates:
            self._diff(row, states[row.record_id])
        for row in creates:
            row.outcome = "created"
        self._write_creates(creates)
        updated = [r for r in updates if r.outcome == "updated"]
        self._write_updates(updated, states)
        self._place_and_assign(creates, [r for r in updated if r.outcome == "updated"])

    def _place_and_assign(self, creates: list[Row], updated: list[Row]) -> None:
        """Territories and assignment rules, the same as the create and edit services: new
        and moved accounts and leads are placed; new records without an owner column go
        through the assignment rules (rapport/territories)."""
        from rapport.territories.assignment import assign_many
        from rapport.territories.placement import PLACED_TYPES, PLACEMENT_FIELDS, Placer, place

        object_type = self.model.OBJECT_TYPE
        if object_type in PLACED_TYPES:
            placer = Placer()
            place(
                object_type,
                [r.record_id for r in creates],
                actor=self.actor,
                reason="created",
                placer=placer,
            )
            place(
                object_type,
                [r.record_id for r in updated if set(r.changes) & PLACEMENT_FIELDS],
                actor=self.actor,
                reason=f"import #{self.job.pk}",
                placer=placer,
            )
        assign_many(
            self.model,
            [r.record_id for r in creates if not r.values.get("owner")],
            actor=self.actor,
        )

    def _custom_problem(self, row: Row, current: dict) -> tuple[str, str, str] | None:
        merged = {**current, **row.values.get("custom", {})}
        for key in self.required_custom:
            if merged.get(key) in (None, "", []):
                return (f"The custom field {key} is required", "required", f"custom.{key}")
        return None

    # ----- updates ---------------------------------------------------------------------------

    def _states(self, ids: set[int]) -> dict[int, dict]:
        if not ids:
            return {}
        fields = ("id", "version", "owner_id", "custom", *self.state_fields())
        states = {
            s["id"]: s for s in self.model.objects.filter(where_in("pk", ids)).values(*fields)
        }
        if "tags" in self.job.mapping.values():
            tags = current_tags(self.model, ids)
            for pk, state in states.items():
                state["tags"] = tags.get(pk, [])
        return states

    def _diff(self, row: Row, state: dict) -> None:
        """Fill row.changes with the fields whose value differs from the stored one. The
        state then holds the new values, so a later row of the batch matching the same
        record compares with (and versions after) this one."""
        row.old = dict(state)
        row.version = state["version"]
        values = row.values
        changes: dict[str, Any] = {}
        for name in self.plain_fields:
            if name in values and values[name] != state.get(name):
                changes[name] = values[name]
        changes.update(self.extra_changes(row, state))
        owner = values.get("owner")
        if owner is not None and owner.pk != state["owner_id"]:
            changes["owner"] = owner
        if "custom" in values:
            merged = {**state["custom"], **values["custom"]}
            merged = {k: v for k, v in merged.items() if v is not None}
            if merged != state["custom"]:
                changes["custom"] = merged
        if "tags" in values and values["tags"] != state.get("tags"):
            changes["tags"] = values["tags"]
        row.changes = changes
        row.outcome = "updated" if changes else "unchanged"
        if changes:
            state.update({k: v for k, v in changes.items() if k != "owner"})
            if owner is not None and "owner" in changes:
                state["owner_id"] = owner.pk
            state["version"] += 1

    def _write_updates(self, rows: list[Row], states: dict[int, dict]) -> None:
        now = timezone.now()
        events = []
        done: list[Row] = []
        for row in rows:
            state = states[row.record_id]
            changes = dict(row.changes)
            tags = changes.pop("tags", None)
            owner = changes.pop("owner", None)
            db_values = dict(changes)
            old = row.old
            if owner is not None:
                db_values["owner_id"] = owner.pk
                db_values["team_id"] = owner.team_id
            updated = self.model._base_manager.filter(pk=row.record_id, version=row.version).update(
                version=F("version") + 1, updated_at=now, **db_values
            )
            if not updated:
                row.fail(
                    "The record was changed by someone else during the import; import the "
                    "file again",
                    "stale_version",
                )
                continue
            done.append(row)
            if tags is not None:
                tags_bulk_set(self.model, {row.record_id: tags}, replace=True)
            diff = {
                k: {"old": jsonable(old.get(k)), "new": jsonable(v)} for k, v in changes.items()
            }
            if tags is not None:
                diff["tags"] = {"old": old.get("tags", []), "new": tags}
            links = self.links_of_state(row.record_id, state)
            if diff:
                events.append(
                    event(
                        kind=EventKind.UPDATED,
                        actor=self.actor,
                        summary=f"Changed {', '.join(sorted(diff))} (import #{self.job.pk})",
                        payload={"changes": diff, "import": self.job.pk},
                        **links,
                    )
                )
            if owner is not None:
                events.append(
                    event(
                        kind=EventKind.OWNER_CHANGED,
                        actor=self.actor,
                        summary=f"Owner changed to {owner.get_full_name() or owner.username}",
                        payload={
                            "owner": {"old": old.get("owner_id"), "new": owner.pk},
                            "import": self.job.pk,
                        },
                        **links,
                    )
                )
        self.after_update(done, states)
        events_insert(events)

    def links_of_state(self, pk: int, state: dict) -> dict[str, int | None]:
        return {f"{self.own_link}_id": pk}

    # ----- creates ---------------------------------------------------------------------------

    def _write_creates(self, rows: list[Row]) -> None:
        if not rows:
            return
        records = []
        for row in rows:
            owner = row.values.get("owner") or self.actor
            fields = self.create_fields(row)
            custom = row.values.get("custom")
            fields.update(
                owner_id=owner.pk,
                team_id=owner.team_id,
                custom={k: v for k, v in custom.items() if v is not None} if custom else _EMPTY,
            )
            records.append(fields)
        ids = BulkInsert(self.model).insert(records, ids=True)
        for row, pk in zip(rows, ids, strict=True):
            row.record_id = pk
        tags = {row.record_id: row.values["tags"] for row in rows if row.values.get("tags")}
        tags_bulk_set(self.model, tags, replace=False)
        self.after_create(rows, records)
        # One payload and one time for the batch: converted once for the insert.
        payload, now = {"import": self.job.pk}, timezone.now()
        events_insert(
            [
                event(
                    kind=EventKind.CREATED,
                    actor=self.actor,
                    summary=self.summary(self.label(fields)),
                    payload=payload,
                    occurred_at=now,
                    **self.links_of(row.record_id, fields),
                )
                for row, fields in zip(rows, records, strict=True)
            ]
        )


_EMPTY: dict = {}  # shared by records without custom values (never mutated)
