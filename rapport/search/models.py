"""The SQLite FTS5 tables, seen by the ORM so that queries can join them.

Not managed: the migrations create the tables (schema.py) on SQLite only; on PostgreSQL
these models have no table and are never queried. A join streams from the index (the
first 100 visible matches cost 100 row lookups), where `id IN (SELECT rowid …)` would
first collect every match. `document` is FTS5's hidden column named after the table:
`<relation>__search_document__document__match=<FTS5 query>`.

The rows are not records: the managers return nothing, so dumpdata/loaddata and the admin
never read or write them (only joins use these tables), and `required_db_vendor` keeps
them out of everything on PostgreSQL.
"""

from django.db import models
from django.db.models import Lookup


class FtsDocumentField(models.TextField):
    """The hidden column of an FTS5 table; its only lookup is `match`."""


@FtsDocumentField.register_lookup
class Match(Lookup):
    lookup_name = "match"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} MATCH {rhs}", (*lhs_params, *rhs_params)


class NoRows(models.Manager):
    def get_queryset(self):
        return super().get_queryset().none()


class FtsDocument(models.Model):
    objects = NoRows()

    class Meta:
        abstract = True
        managed = False
        required_db_vendor = "sqlite"
        base_manager_name = "objects"


def _record(model: str) -> models.OneToOneField:
    return models.OneToOneField(
        model,
        primary_key=True,
        db_column="rowid",
        db_constraint=False,
        on_delete=models.DO_NOTHING,
        related_name="search_document",
    )


class AccountDocument(FtsDocument):
    record = _record("accounts.Account")
    document = FtsDocumentField(db_column="search_account_fts")

    class Meta(FtsDocument.Meta):
        db_table = "search_account_fts"


class ContactDocument(FtsDocument):
    record = _record("accounts.Contact")
    document = FtsDocumentField(db_column="search_contact_fts")

    class Meta(FtsDocument.Meta):
        db_table = "search_contact_fts"


class ContactEmailDocument(FtsDocument):
    record = _record("accounts.ContactEmail")
    document = FtsDocumentField(db_column="search_contactemail_fts")

    class Meta(FtsDocument.Meta):
        db_table = "search_contactemail_fts"


class ContactPhoneDocument(FtsDocument):
    record = _record("accounts.ContactPhone")
    document = FtsDocumentField(db_column="search_contactphone_fts")

    class Meta(FtsDocument.Meta):
        db_table = "search_contactphone_fts"


class LeadDocument(FtsDocument):
    record = _record("leads.Lead")
    document = FtsDocumentField(db_column="search_lead_fts")

    class Meta(FtsDocument.Meta):
        db_table = "search_lead_fts"


class OpportunityDocument(FtsDocument):
    record = _record("sales.Opportunity")
    document = FtsDocumentField(db_column="search_opportunity_fts")

    class Meta(FtsDocument.Meta):
        db_table = "search_opportunity_fts"
