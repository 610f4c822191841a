"""Assets (the installed base) are imported through the assets services, row by row, like
products and opportunities: a row matches an existing asset by its serial number (among
the assets the importer may see; with a product SKU, of that product), otherwise creates
one for a product found by SKU and a customer found by account name or id, contact email
or id (visible ones only). The warranty end defaults to the install date plus the
product's warranty months, as by hand."""

from typing import Any

from rapport.accounts.contact_methods import emails_upper
from rapport.accounts.models import Account, Contact
from rapport.assets.models import Asset
from rapport.assets.selectors import assets_visible_to
from rapport.assets.services import EDITABLE, asset_create, asset_update
from rapport.imports.services.base import NOT_EDITABLE, contact_ids_by_email
from rapport.imports.services.cleaning import Row
from rapport.imports.services.through_services import ServiceImporter
from rapport.records.visibility import visible
from rapport.sales.models import Product

_ASSET_FIELDS = ("serial_number", "install_date", "location", "warranty_end", "status", "notes")


class AssetImporter(ServiceImporter):
    def keys(self, row: Row) -> tuple:
        serial = row.values.get("serial_number")
        return (f"sn:{serial}",) if serial else ()

    def _fail(self, row: Row, field: str, message: str, code: str) -> None:
        row.fail(message, code, self.column(field), field)

    def _resolve(self, rows: list[Row]) -> None:
        """Product by SKU; the customer by account name or id, contact email or id, among
        the records the importer may see (an unknown or hidden one fails the row)."""
        skus = {r.values["product_sku"] for r in rows if r.values.get("product_sku")}
        products = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
        names = {r.values["account"] for r in rows if r.values.get("account")}
        account_ids = {r.values["account_id"] for r in rows if r.values.get("account_id")}
        accounts_by_name: dict[str, Account] = {}
        accounts_by_id: dict[int, Account] = {}
        if names or account_ids:
            from django.db.models import Q

            for account in visible(
                Account.objects.filter(Q(name__in=names) | Q(pk__in=account_ids)), self.actor
            ).order_by("id"):
                accounts_by_name.setdefault(account.name, account)
                accounts_by_id[account.pk] = account
        upper_of = emails_upper(
            {r.values["contact_email"] for r in rows if r.values.get("contact_email")}
        )
        contact_ids = {r.values["contact_id"] for r in rows if r.values.get("contact_id")}
        by_email = contact_ids_by_email(upper_of.values())  # case-insensitively
        contacts = {
            c.pk: c
            for c in visible(
                Contact.objects.filter(pk__in=set(by_email.values()) | contact_ids), self.actor
            )
        }
        for row in rows:
            values = row.values
            sku = values.pop("product_sku", None)
            if sku:
                values["product"] = products.get(sku)
                if values["product"] is None:
                    self._fail(
                        row, "product_sku", f"No product with the SKU {sku!r}", "invalid_product"
                    )
            account = None
            if values.get("account_id"):
                account = accounts_by_id.get(values["account_id"])
                if account is None:
                    self._fail(row, "account_id", "No such account", "invalid_account")
            elif values.get("account"):
                account = accounts_by_name.get(values["account"])
                if account is None:
                    self._fail(
                        row, "account", f"No account named {values['account']!r}", "invalid_account"
                    )
            contact = None
            if values.get("contact_id"):
                contact = contacts.get(values["contact_id"])
                if contact is None:
                    self._fail(row, "contact_id", "No such contact", "invalid_contact")
            elif values.get("contact_email"):
                contact = contacts.get(by_email.get(upper_of[values["contact_email"]], 0))
                if contact is None:
                    self._fail(
                        row,
                        "contact_email",
                        f"No contact with the email {values['contact_email']!r}",
                        "invalid_contact",
                    )
            for key in ("account", "account_id", "contact_email", "contact_id"):
                values.pop(key, None)
            if account is not None:
                values["account"] = account
            if contact is not None:
                values["contact"] = contact

    def process(self, rows: list[Row]) -> None:
        valid = [r for r in rows if not r.outcome]
        self._resolve(valid)
        valid = [r for r in valid if not r.outcome]
        existing: dict[str, list[Asset]] = {}
        if self.policy != "create":
            serials = {r.values["serial_number"] for r in valid if r.values.get("serial_number")}
            # Matching looks only at assets the importer may see: a hidden one is never
            # revealed (nor changed) by a file naming its serial number.
            for asset in (
                assets_visible_to(self.actor).filter(serial_number__in=serials).order_by("id")
            ):
                existing.setdefault(asset.serial_number, []).append(asset)
        for row in valid:
            values = row.values
            fields = {k: v for k, v in values.items() if k in _ASSET_FIELDS}
            matches = existing.get(values.get("serial_number") or "", [])
            product = values.get("product")
            if product is not None:
                matches = [a for a in matches if a.product_id == product.pk]
            if not matches:
                self._create(row, values, fields)
            elif self.policy == "skip":
                row.outcome = "skipped"
                row.record_id = matches[0].pk
            else:
                self._update(row, matches[0], values, fields)

    def _create(self, row: Row, values: dict, fields: dict[str, Any]) -> None:
        if values.get("product") is None:
            self._fail(row, "product_sku", "A product SKU is needed to create an asset", "required")
            return
        if values.get("account") is None and values.get("contact") is None:
            self._fail(
                row,
                "account",
                "An account or a contact is needed to create an asset",
                "customer_required",
            )
            return
        asset = self.run(
            row,
            lambda: asset_create(
                actor=self.actor,
                product=values["product"],
                account=values.get("account"),
                contact=values.get("contact"),
                **{k: v for k, v in fields.items() if v is not None},
            ),
        )
        if asset is not None:
            row.outcome = "created"
            row.record_id = asset.pk

    def _update(self, row: Row, asset: Asset, values: dict, fields: dict[str, Any]) -> None:
        row.record_id = asset.pk
        changes = {k: v for k, v in fields.items() if k in EDITABLE and getattr(asset, k) != v}
        for link in ("account", "contact"):
            if values.get(link) is not None and getattr(asset, f"{link}_id") != values[link].pk:
                changes[link] = values[link]
        if not changes:
            row.outcome = "unchanged"
            return
        diff = self.run(row, lambda: asset_update(asset=asset, actor=self.actor, fields=changes))
        if diff is not None:
            row.outcome = "updated" if diff else "unchanged"


__all__ = ["NOT_EDITABLE", "AssetImporter"]
