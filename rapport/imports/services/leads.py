"""Leads: matched on a normalised email, then (see match_person) an E.164 phone; the status
rules of the lead services (converted only by conversion, a reason while disqualified)."""

from typing import Any

from rapport.imports.services.cleaning import Row
from rapport.imports.services.owned import OwnedImporter, match_person
from rapport.leads.models import Lead, LeadStatus

_LEADS_BY_EMAIL = (  # UPPER(email): the lead_email_upper index
    f"SELECT UPPER(email), id FROM {Lead._meta.db_table} WHERE deleted_at IS NULL AND {{where}}"  # noqa: S608
)
_LEADS_BY_PHONE = (
    f"SELECT phone, id FROM {Lead._meta.db_table} WHERE deleted_at IS NULL AND {{where}}"  # noqa: S608
)


class LeadImporter(OwnedImporter):
    model = Lead
    own_link = "lead"
    plain_fields = (
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
        "disqualified_reason",
        "street",
        "city",
        "region",
        "postal_code",
        "country",
        "description",
    )

    def keys(self, row: Row) -> tuple:
        values = row.values
        return tuple(
            k
            for k in (
                "e:" + values["email"].lower() if values.get("email") else "",
                "p:" + values["phone"] if values.get("phone") else "",
            )
            if k
        )

    def match(self, rows: list[Row]) -> dict[int, list[int]]:
        return match_person(
            rows,
            model=Lead,
            emails_sql=_LEADS_BY_EMAIL,
            email_column="UPPER(email)",
            phones_sql=_LEADS_BY_PHONE,
            phone_column="phone",
        )

    def create_problem(self, row: Row):
        problem = super().create_problem(row)
        if problem:
            return problem
        if row.values.get("status") == LeadStatus.DISQUALIFIED and not row.values.get(
            "disqualified_reason"
        ):
            return ("A disqualified lead needs a reason", "required", "disqualified_reason")
        return None

    def state_fields(self) -> tuple[str, ...]:
        return (*self.plain_fields, "status")

    def label(self, fields: dict) -> str:
        name = super().label(fields)
        return f"{name} ({fields['company']})" if fields.get("company") else name

    def create_fields(self, row: Row) -> dict[str, Any]:
        fields = super().create_fields(row)
        if fields.get("status", LeadStatus.NEW) != LeadStatus.DISQUALIFIED:
            fields["disqualified_reason"] = ""  # kept only while disqualified
        return fields

    def _diff(self, row: Row, state: dict) -> None:
        values = row.values
        if state["status"] == LeadStatus.CONVERTED:
            row.fail("Matches a converted lead, which can no longer change", "lead_converted")
            return
        status = values.get("status", state["status"])
        reason = values.get("disqualified_reason", state["disqualified_reason"])
        if status == LeadStatus.DISQUALIFIED and not reason:
            field = "disqualified_reason"
            row.fail("A disqualified lead needs a reason", "required", self.column(field), field)
            return
        if status != LeadStatus.DISQUALIFIED and ("status" in values or reason):
            values["disqualified_reason"] = ""
        super()._diff(row, state)
