"""Contacts: matched on a normalised email (any of theirs), then (see match_person) an
E.164 phone; a new email or phone becomes the primary one; the company column links or
creates an account."""

from typing import Any

from rapport.accounts.models import Account, Contact, ContactEmail, ContactPhone
from rapport.imports.services.base import (
    EventKind,
    event,
    events_insert,
)
from rapport.imports.services.bulk_sql import BulkInsert, where_in
from rapport.imports.services.cleaning import Row
from rapport.imports.services.owned import OwnedImporter, match_person
from rapport.records.visibility import visible

# Matching reads (key, id) pairs of records not deleted; `{where}` is the key condition.
# Emails as UPPER(email), the expression the contactemail_email_upper index holds.
_CONTACT_EMAILS = (
    f"SELECT UPPER(e.email), e.contact_id FROM {ContactEmail._meta.db_table} e "  # noqa: S608
    f"JOIN {Contact._meta.db_table} c ON c.id = e.contact_id "
    "WHERE c.deleted_at IS NULL AND {where}"
)
_CONTACT_PHONES = (
    f"SELECT p.number, p.contact_id FROM {ContactPhone._meta.db_table} p "  # noqa: S608
    f"JOIN {Contact._meta.db_table} c ON c.id = p.contact_id "
    "WHERE c.deleted_at IS NULL AND {where}"
)


class ContactImporter(OwnedImporter):
    model = Contact
    own_link = "contact"
    plain_fields = (
        "first_name",
        "last_name",
        "title",
        "street",
        "city",
        "region",
        "postal_code",
        "country",
        "description",
    )

    def keys(self, row: Row) -> tuple:
        values = row.values
        keys = []
        if values.get("email"):
            keys.append("e:" + values["email"].lower())
        if values.get("phone"):
            keys.append("p:" + values["phone"])
        return tuple(keys)

    def prepare(self, row: Row) -> None:
        super().prepare(row)
        if row.values.get("consent"):
            self._consent_purposes(row)

    def _consent_purposes(self, row: Row) -> None:
        """Purposes named by slug or name → slugs; an unknown one fails the row."""
        from rapport.consent.models import ConsentPurpose

        if not hasattr(self, "_purpose_names"):
            self._purpose_names = {}
            for slug, name in ConsentPurpose.objects.filter(active=True).values_list(
                "slug", "name"
            ):
                self._purpose_names[slug.lower()] = slug
                self._purpose_names[name.lower()] = slug
        unknown = sorted(
            p for p, _ in row.values["consent"] if p.lower() not in self._purpose_names
        )
        if unknown:
            row.fail(
                f"No active consent purpose {', '.join(unknown)} (see Settings → Consent)",
                "unknown_purpose",
                self.column("consent"),
                "consent",
            )
            return
        row.values["consent"] = [
            (self._purpose_names[p.lower()], action) for p, action in row.values["consent"]
        ]

    def process(self, rows: list[Row]) -> None:
        super().process(rows)
        self._write_consents(rows)

    def _write_consents(self, rows: list[Row]) -> None:
        """The consent column: one ledger entry per purpose and row (source "import"), for
        created, updated and unchanged rows; a refusal fails only that row."""
        from django.core.exceptions import ValidationError
        from django.db import transaction

        from rapport.consent.models import Channel, ConsentPurpose, ConsentSource
        from rapport.consent.services import consent_record

        wanted = [
            r
            for r in rows
            if r.values.get("consent")
            and r.record_id
            and r.outcome in ("created", "updated", "unchanged")
        ]
        if not wanted:
            return
        purposes = {p.slug: p for p in ConsentPurpose.objects.filter(active=True)}
        people = Contact.objects.in_bulk([r.record_id for r in wanted])
        for row in wanted:
            person = people.get(row.record_id)
            if person is None:
                continue
            try:
                with transaction.atomic():
                    for slug, action in row.values["consent"]:
                        consent_record(
                            person=person,
                            channel=Channel.EMAIL,
                            purpose=purposes[slug],
                            action=action,
                            source=ConsentSource.IMPORT,
                            actor=self.actor,
                            note=f"Import #{self.job.pk}",
                        )
            except ValidationError as exc:
                row.warn(
                    "Consent not recorded: " + "; ".join(exc.messages),
                    "consent_refused",
                    self.column("consent"),
                    "consent",
                )

    def match(self, rows: list[Row]) -> dict[int, list[int]]:
        return match_person(
            rows,
            model=Contact,
            emails_sql=_CONTACT_EMAILS,
            email_column="UPPER(e.email)",
            phones_sql=_CONTACT_PHONES,
            phone_column="p.number",
        )

    def state_fields(self) -> tuple[str, ...]:
        return (*self.plain_fields, "email", "phone", "account_id")

    def link(self, rows: list[Row]) -> None:
        """Contacts name their account: an account the importer sees with exactly that
        name (the oldest), else a new one owned like the contact."""
        names = {r.values["account"] for r in rows if r.values.get("account")}
        if not names:
            return
        found: dict[str, int] = {}
        for name, pk in (
            visible(Account.objects.filter(where_in("name", names)), self.actor)
            .order_by("id")
            .values_list("name", "pk")
        ):
            found.setdefault(name, pk)
        missing = sorted(names - set(found))
        self.extra["accounts_created"] += len(missing)
        if missing:
            owners = {}
            for row in rows:
                name = row.values.get("account")
                if name in missing and name not in owners:
                    owners[name] = row.values.get("owner") or self.actor
            accounts = [
                {"name": name, "owner_id": owners[name].pk, "team_id": owners[name].team_id}
                for name in missing
            ]
            ids = BulkInsert(Account).insert(accounts, ids=True)
            events_insert(
                [
                    event(
                        kind=EventKind.CREATED,
                        actor=self.actor,
                        summary=self.summary(a["name"]),
                        payload={"import": self.job.pk},
                        account_id=pk,
                    )
                    for a, pk in zip(accounts, ids, strict=True)
                ]
            )
            found.update({a["name"]: pk for a, pk in zip(accounts, ids, strict=True)})
        for row in rows:
            name = row.values.get("account")
            if name:
                row.values["account_id"] = found.get(name)

    def create_fields(self, row: Row) -> dict[str, Any]:
        fields = super().create_fields(row)
        fields["account_id"] = row.values.get("account_id")
        fields["email"] = row.values.get("email", "")
        fields["phone"] = row.values.get("phone", "")
        return fields

    def links_of(self, pk: int, fields: dict) -> dict[str, int | None]:
        return {"contact_id": pk, "account_id": fields.get("account_id")}

    def links_of_state(self, pk: int, state: dict) -> dict[str, int | None]:
        return {"contact_id": pk, "account_id": state.get("account_id")}

    def _methods(self, ids) -> tuple[dict[int, set[str]], dict[int, set[str]]]:
        emails: dict[int, set[str]] = {}
        phones: dict[int, set[str]] = {}
        for pk, email in ContactEmail.objects.filter(where_in("contact_id", ids)).values_list(
            "contact_id", "email"
        ):
            emails.setdefault(pk, set()).add(email.lower())
        for pk, number in ContactPhone.objects.filter(where_in("contact_id", ids)).values_list(
            "contact_id", "number"
        ):
            phones.setdefault(pk, set()).add(number)
        return emails, phones

    def _states(self, ids: set[int]) -> dict[int, dict]:
        states = super()._states(ids)
        if states and ({"email", "phone"} & set(self.job.mapping.values())):
            emails, phones = self._methods(list(states))
            for pk, state in states.items():
                state["_emails"] = emails.get(pk, set())
                state["_phones"] = phones.get(pk, set())
        return states

    def extra_changes(self, row: Row, state: dict) -> dict[str, Any]:
        """A new email or phone becomes the primary one; one the contact already has
        changes nothing."""
        changes: dict[str, Any] = {}
        values = row.values
        if "account_id" in values and values["account_id"] != state["account_id"]:
            changes["account_id"] = values["account_id"]
        email = values.get("email")
        if email and email.lower() not in state.get("_emails", set()):
            changes["email"] = email
            state.setdefault("_emails", set()).add(email.lower())
        phone = values.get("phone")
        if phone and phone not in state.get("_phones", set()):
            changes["phone"] = phone
            state.setdefault("_phones", set()).add(phone)
        return changes

    def after_create(self, rows: list[Row], records: list[dict]) -> None:
        BulkInsert(ContactEmail).insert(
            [
                {"contact_id": row.record_id, "email": c["email"], "is_primary": True}
                for row, c in zip(rows, records, strict=True)
                if c["email"]
            ]
        )
        BulkInsert(ContactPhone).insert(
            [
                {"contact_id": row.record_id, "number": c["phone"], "is_primary": True}
                for row, c in zip(rows, records, strict=True)
                if c["phone"]
            ]
        )

    def after_update(self, rows: list[Row], states: dict[int, dict]) -> None:
        new_emails = {r.record_id: r.changes["email"] for r in rows if "email" in r.changes}
        new_phones = {r.record_id: r.changes["phone"] for r in rows if "phone" in r.changes}
        if new_emails:
            ContactEmail.objects.filter(where_in("contact_id", new_emails), is_primary=True).update(
                is_primary=False
            )
            ContactEmail.objects.bulk_create(
                [
                    ContactEmail(contact_id=pk, email=e, is_primary=True)
                    for pk, e in new_emails.items()
                ]
            )
        if new_phones:
            ContactPhone.objects.filter(where_in("contact_id", new_phones), is_primary=True).update(
                is_primary=False
            )
            ContactPhone.objects.bulk_create(
                [
                    ContactPhone(contact_id=pk, number=n, is_primary=True)
                    for pk, n in new_phones.items()
                ]
            )
