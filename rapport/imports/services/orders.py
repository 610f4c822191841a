"""Orders: one row per line, consecutive rows with the same external id making one order;
new orders through the idempotent bulk service, existing ones through order_update.

A transaction log imports as it is: its amount (total) column is the line's total, the
unit price derived from it, and with the job's `create_customers` a customer email that no
contact has creates the contact (named from a customer-name column, else the email) and
the account a company column names, through the account services."""

import re
from collections import OrderedDict
from decimal import Decimal
from typing import Any

from rapport.accounts import services as account_services
from rapport.accounts.contact_methods import emails_upper
from rapport.accounts.models import Account, Contact
from rapport.imports.services.base import NOT_EDITABLE, contact_ids_by_email
from rapport.imports.services.cleaning import Row
from rapport.imports.services.through_services import ServiceImporter
from rapport.orders import services as order_services
from rapport.orders.models import Order
from rapport.orders.selectors import order_get_for_user
from rapport.records.exceptions import RecordNotFound
from rapport.records.external_ids import own_external_q
from rapport.records.visibility import visible
from rapport.sales.models import Product

_RECENT_ORDERS = 100_000


class OrderImporter(ServiceImporter):
    """One row per order line; consecutive rows with the same external id are one order
    (the runner never splits them between batches). Orders match on their external id.
    The first row of an order carries its outcome (the counts are of orders); a refused
    order rejects all its rows, the faulty one with the reason."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # A bounded memory of orders already imported by this job: a later, separate group
        # of rows with the same id would otherwise replace the lines just written.
        self.recent: OrderedDict[str, int] = OrderedDict()

    def group(self, row: Row) -> str | None:
        return row.values.get("external_id") or None

    def process(self, rows: list[Row]) -> None:
        groups: OrderedDict[str, list[Row]] = OrderedDict()
        previous, run_first = None, None
        for row in rows:
            key = self.group(row)
            if key is None:
                if not row.outcome:
                    row.fail(
                        "An order id (external id) is needed",
                        "required",
                        self.column("external_id"),
                        "external_id",
                    )
                previous = None
                continue
            if key != previous:
                # A new run of rows: an id seen before in another run is not consecutive.
                run_first = groups[key][0].number if key in groups else self.recent.get(key)
                previous = key
            if run_first is not None:
                row.fail(
                    f"Rows of order {key} must be consecutive (first seen at row {run_first})",
                    "order_not_consecutive",
                    self.column("external_id"),
                    "external_id",
                )
                continue
            groups.setdefault(key, []).append(row)
        for key, group in groups.items():
            self.recent[key] = group[0].number
            if len(self.recent) > _RECENT_ORDERS:
                self.recent.popitem(last=False)
        groups = OrderedDict((k, g) for k, g in groups.items() if not self._has_failed(g))
        if not groups:
            return
        self._resolve(groups)
        groups = OrderedDict((k, g) for k, g in groups.items() if not self._has_failed(g))
        # The importer's own orders only: an external id is its writer's key, so another
        # person's order with the same id is neither matched, updated nor mentioned.
        existing = {
            o.external_id: o
            for o in Order.objects.filter(
                own_external_q(writer=self.actor, source="", external_ids=groups)
            )
        }
        fresh = []
        for external_id, group in groups.items():
            order = existing.get(external_id)
            if order is None:
                fresh.append((external_id, group))
            elif self.policy == "skip":
                self._outcome(group, "skipped")
            elif self.policy == "create":
                group[0].fail(
                    f"An order with the id {external_id!r} exists",
                    "duplicate",
                    self.column("external_id"),
                    "external_id",
                )
                self._reject(group)
            else:
                self._update(order, group)
        for start in range(0, len(fresh), order_services.MAX_BULK):
            self._create(fresh[start : start + order_services.MAX_BULK])

    def _has_failed(self, group: list[Row]) -> bool:
        if any(r.outcome == "failed" for r in group):
            self._reject(group)
            return True
        return False

    def _reject(self, group: list[Row]) -> None:
        first = group[0].values.get("external_id", "")
        for row in group:
            if row.outcome != "failed":
                row.fail(f"Part of order {first}, which was refused", "order_refused")

    def _outcome(self, group: list[Row], outcome: str) -> None:
        group[0].outcome = outcome
        for row in group[1:]:
            row.outcome = "line"

    def _resolve(self, groups: dict[str, list[Row]]) -> None:
        """Account names and contact emails → visible records (created first when the job
        creates customers); SKUs → products; amounts → unit prices."""
        heads = [g[0] for g in groups.values()]
        names = {r.values["account"] for r in heads if r.values.get("account")}
        accounts: dict[str, int] = {}
        if names:
            for name, pk in (
                visible(Account.objects.filter(name__in=names), self.actor)
                .order_by("id")
                .values_list("name", "pk")
            ):
                accounts.setdefault(name, pk)
        # Contacts by email, case-insensitively, keyed by the upper-case form.
        upper_of = emails_upper(
            {r.values["contact_email"] for r in heads if r.values.get("contact_email")}
        )
        contacts: dict[str, int] = {}
        if upper_of:
            ids = contact_ids_by_email(upper_of.values())
            seen = set(
                visible(Contact.objects.filter(pk__in=ids.values()), self.actor).values_list(
                    "pk", flat=True
                )
            )
            contacts = {e: pk for e, pk in ids.items() if pk in seen}
            if self.job.create_customers:
                self._create_customers(heads, accounts, contacts, set(ids), upper_of)
        skus = {
            r.values["product_sku"]
            for g in groups.values()
            for r in g
            if r.values.get("product_sku")
        }
        products = dict(Product.objects.filter(sku__in=skus).values_list("sku", "pk"))
        for group in groups.values():
            head = group[0].values
            if head.get("account") and "account_id" not in head:
                head["account_id"] = accounts.get(head["account"])
                if head["account_id"] is None:
                    group[0].fail(
                        f"No account named {head['account']!r}",
                        "invalid_account",
                        self.column("account"),
                        "account",
                    )
            if head.get("contact_email") and "contact_id" not in head:
                head["contact_id"] = contacts.get(upper_of[head["contact_email"]])
                if head["contact_id"] is None:
                    group[0].fail(
                        f"No contact with the email {head['contact_email']!r}"
                        + (
                            ""
                            if self.job.create_customers
                            else " (or import with the option to create the customers)"
                        ),
                        "invalid_contact",
                        self.column("contact_email"),
                        "contact_email",
                    )
            for row in group:
                sku = row.values.get("product_sku")
                if sku:
                    row.values["product_id"] = products.get(sku)
                    if row.values["product_id"] is None:
                        row.fail(
                            f"No product with the SKU {sku!r}",
                            "invalid_product",
                            self.column("product_sku"),
                            "product_sku",
                        )
                if "unit_price" not in row.values:
                    self._price_from_total(row)

    def _price_from_total(self, row: Row) -> None:
        """A line total (amount) gives the unit price: total ÷ quantity when that is a
        price in cents, else one unit at the total (the quantity kept in the description,
        with a warning)."""
        values = row.values
        total = values.get("line_total")
        if total is None:
            field = "line_total" if self.column("line_total") else "unit_price"
            row.fail(
                "A unit price or a line total (amount) is needed for each line",
                "required",
                self.column(field),
                field,
            )
            return
        quantity = values.get("quantity", Decimal(1))
        price = (total / quantity).quantize(Decimal("0.01"))
        if price * quantity == total:
            values["unit_price"] = price
            return
        values["unit_price"], values["quantity"] = total, Decimal(1)
        described = f"{values.get('line_description', '')} (× {quantity.normalize()})"
        values["line_description"] = described.strip()[:200]
        row.warn(
            f"{total} is not {quantity.normalize()} × a price in cents: imported as one unit "
            f"at {total}",
            "quantity_not_divisible",
            self.column("quantity"),
            "quantity",
        )

    def _create_customers(
        self,
        heads: list[Row],
        accounts: dict[str, int],
        contacts: dict[str, int],
        known: set,
        upper_of: dict[str, str],
    ) -> None:
        """A contact for each email that no contact has, in any case (one the importer
        cannot see is not duplicated: its orders are refused as before), with the account
        the row names, created when the importer sees none of that name. `contacts` and
        `known` are keyed by the emails' upper-case form (`upper_of`)."""
        for head in heads:
            values = head.values
            email = values.get("contact_email")
            if not email or upper_of[email] in known or head.outcome == "failed":
                continue
            known.add(upper_of[email])
            account_id = values.get("account_id")
            name = values.get("account")
            if account_id is None and name:
                if name not in accounts:
                    account = self.run(
                        head,
                        lambda name=name: account_services.account_create(
                            actor=self.actor, fields={"name": name}
                        ),
                    )
                    if account is None:
                        continue
                    accounts[name] = account.pk
                    self.extra["accounts_created"] += 1
                account_id = accounts[name]
            first, last = values.get("customer_name") or ("", "")
            fields = {
                "first_name": first,
                "last_name": last or email.split("@")[0][:100],
                "account_id": account_id,
            }
            contact = self.run(
                head,
                lambda fields=fields, email=email: account_services.contact_create(
                    actor=self.actor, fields=fields, emails=[{"email": email}]
                ),
            )
            if contact is not None:
                contacts[upper_of[email]] = contact.pk
                self.extra["customers_created"] += 1

    def _lines(self, group: list[Row]) -> list[dict[str, Any]]:
        return [
            {
                "product_id": r.values.get("product_id"),
                "description": r.values.get("line_description", ""),
                "quantity": r.values.get("quantity", 1),
                "unit_price": r.values["unit_price"],
                **{
                    name: r.values[name]
                    for name in order_services.LINE_DELIVERY
                    if r.values.get(name) is not None
                },
            }
            for r in group
        ]

    def _payload(self, external_id: str, group: list[Row]) -> dict[str, Any]:
        head = group[0].values
        payload: dict[str, Any] = {
            "external_id": external_id,
            "account_id": head.get("account_id"),
            "contact_id": head.get("contact_id"),
            "ordered_at": head.get("ordered_at"),
            "lines": self._lines(group),
        }
        for key in ("channel", "status", "currency"):
            if head.get(key):
                payload[key] = head[key]
        for key in order_services.DELIVERY_FIELDS:
            if head.get(key) is not None:
                payload[key] = head[key]
        if payload["ordered_at"] is None:
            group[0].fail(
                "An order date is needed", "required", self.column("ordered_at"), "ordered_at"
            )
        return payload

    def _create(self, fresh: list[tuple[str, list[Row]]]) -> None:
        payloads = []
        kept = []
        for external_id, group in fresh:
            payload = self._payload(external_id, group)
            if self._has_failed(group):
                continue
            payloads.append(payload)
            kept.append(group)
        if not payloads:
            return
        result: dict[str, Any] = {}

        def create():
            result.update(order_services.orders_bulk_create(actor=self.actor, rows=payloads))

        carrier = Row(number=kept[0][0].number, cells=[])
        self.run(carrier, create)
        if carrier.issues:  # the whole call was refused (read-only user …)
            for group in kept:
                for issue in carrier.issues:
                    group[0].fail(issue.message, issue.code)
                self._reject(group)
            return
        for item in result["results"]:
            group = kept[item["index"]]
            if item["status"] == "created":
                group[0].record_id = item["id"]
                self._outcome(group, "created")
            elif item["status"] == "existing":
                self._outcome(group, "skipped")
            else:
                for error in item["errors"]:
                    self._line_error(group, error)
                self._reject(group)

    def _line_error(self, group: list[Row], error: dict[str, Any]) -> None:
        field = error.get("field") or ""
        match = re.match(r"lines\[(\d+)\]\.(\w+)", field)
        if match:
            row = group[min(int(match.group(1)), len(group) - 1)]
            name = {"product_id": "product_sku", "description": "line_description"}.get(
                match.group(2), match.group(2)
            )
        else:
            row = group[0]
            name = {"account_id": "account", "contact_id": "contact_email"}.get(field, field)
            if name not in self.job.mapping.values() and field in self.job.mapping.values():
                name = field
        row.fail(error["detail"], error["code"], self.column(name), name)

    def _update(self, order: Order, group: list[Row]) -> None:
        try:
            order = order_get_for_user(pk=order.pk, user=self.actor)
        except RecordNotFound:
            group[0].fail(NOT_EDITABLE, "not_editable")
            self._reject(group)
            return
        head = group[0].values
        fields: dict[str, Any] = {"lines": self._lines(group)}
        for key in ("ordered_at", "channel", "status", *order_services.DELIVERY_FIELDS):
            if head.get(key) is not None:
                fields[key] = head[key]
        group[0].record_id = order.pk
        diff = self.run(
            group[0],
            lambda: order_services.order_update(order=order, actor=self.actor, fields=fields),
        )
        if diff is None:
            self._reject(group)
        else:
            self._outcome(group, "updated" if diff else "unchanged")
