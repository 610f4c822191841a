"""Products, opportunities and orders (orders.py) are imported through their domain
services, row by row (orders: the idempotent bulk service), each row in its own
savepoint: these imports are small next to contacts, and their rules (catalogue rights,
pipelines and stage history, order totals from lines) stay in one place. A dry run calls
the same services and the runner rolls the whole run back, so it reports exactly what the
import would do, rows that match rows of the same file included.
"""

import re
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from rapport.accounts.models import Account, Contact, ContactEmail
from rapport.imports.services.base import NOT_EDITABLE, Importer
from rapport.imports.services.cleaning import Row
from rapport.records.exceptions import Conflict, PermissionDenied, RecordNotFound, StaleVersion
from rapport.records.visibility import editable, visible
from rapport.sales import services as sales_services
from rapport.sales.models import Opportunity, Pipeline, Product, Stage


class ServiceImporter(Importer):
    @contextmanager
    def savepoint(self):
        """One row's writes: a service that refuses the row leaves nothing of it."""
        with transaction.atomic():
            yield

    def field_of(self, name: str) -> str:
        """The import field a service's error field names (`account_id` → account)."""
        name = re.sub(r"_id$", "", name)
        return {"primary_contact": "primary_contact", "parent": "parent"}.get(name, name)

    def run(self, row: Row, fn) -> Any:
        """Call a service for the row; its refusals become the row's issues."""
        try:
            with self.savepoint():
                return fn()
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for name, errors in exc.error_dict.items():
                    field = "" if name == "__all__" else self.field_of(name)
                    for err in errors:
                        message = err.message % err.params if err.params else err.message
                        row.fail(str(message), err.code or "invalid", self.column(field), field)
            else:
                for err in exc.error_list:
                    message = err.message % err.params if err.params else err.message
                    row.fail(str(message), err.code or "invalid")
        except (RecordNotFound, PermissionDenied) as exc:
            code = getattr(exc, "code", "not_editable")
            if code == "read_only":
                row.fail(str(exc), code)
            else:
                row.fail(NOT_EDITABLE, "not_editable")
        except StaleVersion:
            row.fail("The record was changed by someone else during the import", "stale_version")
        except Conflict as exc:
            row.fail(str(exc), exc.code, self.column(exc.field or ""), exc.field or "")
        return None


# ----- products ------------------------------------------------------------------------------

_PRODUCT_FIELDS = (
    "sku",
    "name",
    "category",
    "description",
    "unit_price",
    "unit_cost",
    "currency",
    "is_active",
)


class ProductImporter(ServiceImporter):
    """Products match on their SKU (unique). Only managers and admins may import them."""

    def keys(self, row: Row) -> tuple:
        return ("s:" + row.values["sku"],) if row.values.get("sku") else ()

    def process(self, rows: list[Row]) -> None:
        valid = [r for r in rows if not r.outcome]
        skus = {r.values["sku"] for r in valid if r.values.get("sku")}
        existing = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
        for row in valid:
            fields = {k: v for k, v in row.values.items() if k in _PRODUCT_FIELDS}
            product = existing.get(fields.get("sku"))
            if product is None:
                self._create(row, fields)
            elif self.policy == "skip":
                row.outcome = "skipped"
            elif self.policy == "create":
                row.fail(
                    f"A product with the SKU {product.sku!r} exists",
                    "duplicate",
                    self.column("sku"),
                    "sku",
                )
            else:
                self._update(row, product, fields)

    def _create(self, row: Row, fields: dict[str, Any]) -> None:
        for required in ("sku", "name"):
            if not fields.get(required):
                row.fail(
                    f"A {required} is needed to create a product",
                    "required",
                    self.column(required),
                    required,
                )
                return
        product = self.run(
            row, lambda: sales_services.product_create(actor=self.actor, fields=fields)
        )
        if product is not None:
            row.outcome = "created"
            row.record_id = product.pk

    def _update(self, row: Row, product: Product, fields: dict[str, Any]) -> None:
        row.record_id = product.pk
        changes = {k: v for k, v in fields.items() if getattr(product, k) != v}
        if not changes:
            row.outcome = "unchanged"
            return
        diff = self.run(
            row,
            lambda: sales_services.product_update(
                product=product, actor=self.actor, fields=changes
            ),
        )
        if diff is not None:
            row.outcome = "updated" if diff else "unchanged"


# ----- opportunities -------------------------------------------------------------------------

_OPPORTUNITY_FIELDS = (
    "name",
    "amount",
    "currency",
    "probability",
    "expected_close_date",
    "source",
    "lost_reason",
    "description",
)


class OpportunityImporter(ServiceImporter):
    """Opportunities match on their name within the same account (a deal's natural key:
    the same deal name at the same customer is the same deal)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pipelines = {p.name: p for p in Pipeline.objects.all()}
        self.stages: dict[tuple[int, str], Stage] = {
            (s.pipeline_id, s.name): s for s in Stage.objects.all()
        }

    def keys(self, row: Row) -> tuple:
        name = row.values.get("name")
        return (f"n:{name}|{row.values.get('account', '')}",) if name else ()

    def _resolve(self, rows: list[Row]) -> None:
        names = {r.values["account"] for r in rows if r.values.get("account")}
        accounts: dict[str, Account] = {}
        if names:
            for account in visible(Account.objects.filter(name__in=names), self.actor).order_by(
                "id"
            ):
                accounts.setdefault(account.name, account)
        emails = {r.values["primary_contact"] for r in rows if r.values.get("primary_contact")}
        contacts: dict[str, Contact] = {}
        if emails:
            for email in (
                ContactEmail.objects.filter(email__in=emails, contact__deleted_at__isnull=True)
                .select_related("contact")
                .order_by("contact_id")
            ):
                contacts.setdefault(email.email, email.contact)
            seen = set(
                visible(
                    Contact.objects.filter(pk__in=[c.pk for c in contacts.values()]), self.actor
                ).values_list("pk", flat=True)
            )
            contacts = {e: c for e, c in contacts.items() if c.pk in seen}
        for row in rows:
            values = row.values
            if values.get("account"):
                account = accounts.get(values["account"])
                if account is None:
                    row.fail(
                        f"No account named {values['account']!r}",
                        "invalid_account",
                        self.column("account"),
                        "account",
                    )
                values["account"] = account
            if values.get("primary_contact"):
                contact = contacts.get(values["primary_contact"])
                if contact is None:
                    row.fail(
                        f"No contact with the email {values['primary_contact']!r}",
                        "invalid_contact",
                        self.column("primary_contact"),
                        "primary_contact",
                    )
                values["primary_contact"] = contact
            pipeline = None
            if values.get("pipeline"):
                pipeline = self.pipelines.get(values["pipeline"])
                if pipeline is None:
                    row.fail(
                        f"No pipeline named {values['pipeline']!r}",
                        "invalid_pipeline",
                        self.column("pipeline"),
                        "pipeline",
                    )
                values["pipeline"] = pipeline
            if values.get("stage"):
                stage = self._stage(pipeline, values["stage"])
                if stage is None:
                    row.fail(
                        f"No stage named {values['stage']!r} in the pipeline",
                        "invalid_stage",
                        self.column("stage"),
                        "stage",
                    )
                values["stage"] = stage

    def _stage(self, pipeline: Pipeline | None, name: str) -> Stage | None:
        if pipeline is None:
            pipeline = next((p for p in self.pipelines.values() if p.is_default), None)
        return self.stages.get((pipeline.pk, name)) if pipeline else None

    def process(self, rows: list[Row]) -> None:
        valid = [r for r in rows if not r.outcome]
        self._resolve(valid)
        valid = [r for r in valid if not r.outcome]
        existing: dict[tuple[str, int | None], list[Opportunity]] = {}
        if self.policy != "create":
            names = {r.values["name"] for r in valid if r.values.get("name")}
            for opportunity in (
                Opportunity.objects.filter(name__in=names)
                .select_related("stage", "account", "primary_contact")
                .order_by("id")
            ):
                existing.setdefault((opportunity.name, opportunity.account_id), []).append(
                    opportunity
                )
        found_ids = {o.pk for group in existing.values() for o in group}
        editable_ids = set()
        if found_ids and self.policy == "update":
            editable_ids = set(
                editable(Opportunity.objects.filter(pk__in=found_ids), self.actor).values_list(
                    "pk", flat=True
                )
            )
        for row in valid:
            values = dict(row.values)
            account = values.get("account")
            matches = existing.get((values.get("name"), account.pk if account else None), [])
            extras = {
                "owner": values.pop("owner", None),
                "tags": values.pop("tags", None),
                "custom": values.pop("custom", None),
            }
            fields = {k: v for k, v in values.items() if k in _OPPORTUNITY_FIELDS}
            for link in ("account", "primary_contact", "pipeline", "stage"):
                if values.get(link) is not None:
                    fields[link] = values[link]
            if not matches:
                if not fields.get("name"):
                    row.fail(
                        "A name is needed to create an opportunity",
                        "required",
                        self.column("name"),
                        "name",
                    )
                    continue
                created = self.run(
                    row,
                    lambda f=fields, e=extras: sales_services.opportunity_create(
                        actor=self.actor, fields=f, **e
                    ),
                )
                if created is not None:
                    row.outcome = "created"
                continue
            if self.policy == "skip":
                row.outcome = "skipped"
                continue
            mine = [o for o in matches if o.pk in editable_ids]
            if not mine:
                row.fail(NOT_EDITABLE, "not_editable")
                continue
            opportunity = mine[0]
            row.record_id = opportunity.pk
            diff = self.run(
                row,
                lambda o=opportunity, f=fields, e=extras: sales_services.opportunity_update(
                    opportunity=o, actor=self.actor, fields=f, **e
                ),
            )
            if diff is not None:
                row.outcome = "updated" if diff else "unchanged"
