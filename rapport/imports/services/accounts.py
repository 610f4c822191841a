"""Accounts: matched on their domain (from the website when no domain is given), then on
their exact name; the parent is a visible account named in the file."""

from typing import Any

from rapport.accounts.models import Account
from rapport.accounts.services import _account_fields
from rapport.imports.services.bulk_sql import where_in
from rapport.imports.services.cleaning import Row
from rapport.imports.services.owned import OwnedImporter
from rapport.records.visibility import visible


def _domain(values: dict) -> str | None:
    """The domain an account row is matched on: the one the account services store."""
    derived = _account_fields({k: values[k] for k in ("website", "domain") if k in values})
    return derived["domain"][:200] if derived.get("domain") else None


class AccountImporter(OwnedImporter):
    model = Account
    own_link = "account"
    plain_fields = (
        "name",
        "website",
        "domain",
        "industry",
        "size",
        "annual_revenue",
        "currency",
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
    )

    def prepare(self, row: Row) -> None:
        domain = _domain(row.values)
        if domain:
            row.values["domain"] = domain

    def keys(self, row: Row) -> tuple:
        """The domain as matching compares it (derived from the website, lower case,
        without "www."), so that rows naming one domain differently never share a batch."""
        values = row.values
        keys = []
        domain = _domain(values)
        if domain:
            keys.append("d:" + domain)
        if values.get("name"):
            keys.append("n:" + values["name"])
        return tuple(keys)

    def match(self, rows: list[Row]) -> dict[int, list[int]]:
        by_domain: dict[str, set[int]] = {}
        domains = {r.values["domain"] for r in rows if r.values.get("domain")}
        if domains:
            for domain, pk in Account.objects.filter(where_in("domain", domains)).values_list(
                "domain", "pk"
            ):
                by_domain.setdefault(domain, set()).add(pk)
        names = {r.values["name"] for r in rows if r.values.get("name")}
        by_name: dict[str, set[int]] = {}
        if names:
            for name, pk in Account.objects.filter(where_in("name", names)).values_list(
                "name", "pk"
            ):
                by_name.setdefault(name, set()).add(pk)
        out = {}
        for row in rows:
            found = by_domain.get(row.values.get("domain", "")) or by_name.get(
                row.values.get("name", "")
            )
            if found:
                out[row.number] = sorted(found)
        return out

    def create_problem(self, row: Row):
        if not row.values.get("name"):
            return ("A name is needed to create an account", "required", "name")
        return None

    def label(self, fields: dict) -> str:
        return fields.get("name", "")

    def state_fields(self) -> tuple[str, ...]:
        return (*self.plain_fields, "parent_id")

    def link(self, rows: list[Row]) -> None:
        """The parent is an account the importer sees with exactly that name."""
        names = {r.values["parent"] for r in rows if r.values.get("parent")}
        if not names:
            return
        found: dict[str, int] = {}
        for name, pk in (
            visible(Account.objects.filter(where_in("name", names)), self.actor)
            .order_by("id")
            .values_list("name", "pk")
        ):
            found.setdefault(name, pk)
        for row in rows:
            name = row.values.get("parent")
            if not name:
                continue
            if name not in found:
                row.fail(
                    f"No account named {name!r}", "invalid_parent", self.column("parent"), "parent"
                )
            elif found[name] == row.record_id:
                row.fail(
                    "An account cannot be its own parent",
                    "invalid",
                    self.column("parent"),
                    "parent",
                )
            else:
                row.values["parent_id"] = found[name]

    def create_fields(self, row: Row) -> dict[str, Any]:
        fields = super().create_fields(row)
        if row.values.get("parent_id"):
            fields["parent_id"] = row.values["parent_id"]
        return fields

    def extra_changes(self, row: Row, state: dict) -> dict[str, Any]:
        parent = row.values.get("parent_id")
        if parent and parent != state.get("parent_id"):
            return {"parent_id": parent}
        return {}
