"""What is searchable: one index per record type, described once for both backends.

An index covers the record's own table and, for contacts, the tables of their extra
emails and phones (rows pointing at the contact). Opportunities are also found through
their account's index. Phone columns are indexed as their digits only, so that a number
typed in any format matches. Names of the database objects derive from `IndexedTable.key`
(schema.py builds the SQL, matching.py queries it).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    digits: bool = False  # a phone number: indexed as its digits only


@dataclass(frozen=True)
class IndexedTable:
    key: str  # short name: the objects are search_<key>_fts, search_<key>_trgm, …
    table: str
    columns: tuple[Column, ...]
    record_column: str = "id"  # the column holding the id of the record found
    path: str = ""  # ORM path from the record to these rows ("" for the record's own table)

    @property
    def fts(self) -> str:
        return f"search_{self.key}_fts"

    @property
    def trgm_index(self) -> str:
        return f"search_{self.key}_trgm"

    def trigger(self, event: str) -> str:
        return f"search_{self.key}_{event}"


@dataclass(frozen=True)
class SearchIndex:
    object_type: str
    model_label: str  # app_label.ModelName
    tables: tuple[IndexedTable, ...]  # the record's own table first
    # Main name fields: terms shorter than a trigram are matched as their prefix; ranking
    # puts exact and prefix matches of these first.
    name_fields: tuple[str, ...]
    # (foreign key field, object type): records also found when their parent matches.
    through: tuple[tuple[str, str], ...] = ()

    @property
    def main(self) -> IndexedTable:
        return self.tables[0]

    def prefix_index(self, field: str) -> str:
        return f"search_{self.main.key}_{field}_prefix"


ACCOUNT = SearchIndex(
    object_type="account",
    model_label="accounts.Account",
    tables=(
        IndexedTable(
            key="account",
            table="accounts_account",
            columns=(Column("name"), Column("domain"), Column("website"), Column("city")),
        ),
    ),
    name_fields=("name",),
)

CONTACT = SearchIndex(
    object_type="contact",
    model_label="accounts.Contact",
    tables=(
        IndexedTable(
            key="contact",
            table="accounts_contact",
            columns=(
                Column("first_name"),
                Column("last_name"),
                Column("title"),
                Column("email"),
                Column("phone", digits=True),
            ),
        ),
        # Every email and phone of the contact, not only the primary ones denormalised above.
        IndexedTable(
            key="contactemail",
            table="accounts_contactemail",
            columns=(Column("email"),),
            record_column="contact_id",
            path="emails",
        ),
        IndexedTable(
            key="contactphone",
            table="accounts_contactphone",
            columns=(Column("number", digits=True),),
            record_column="contact_id",
            path="phones",
        ),
    ),
    name_fields=("last_name", "first_name"),
)

LEAD = SearchIndex(
    object_type="lead",
    model_label="leads.Lead",
    tables=(
        IndexedTable(
            key="lead",
            table="leads_lead",
            columns=(
                Column("first_name"),
                Column("last_name"),
                Column("email"),
                Column("phone", digits=True),
                Column("company"),
            ),
        ),
    ),
    name_fields=("last_name", "first_name", "company"),
)

OPPORTUNITY = SearchIndex(
    object_type="opportunity",
    model_label="sales.Opportunity",
    tables=(IndexedTable(key="opportunity", table="sales_opportunity", columns=(Column("name"),)),),
    name_fields=("name",),
    through=(("account", "account"),),
)

# Knowledge-base articles (rapport/knowledge): the current title and Markdown body.
ARTICLE = SearchIndex(
    object_type="article",
    model_label="knowledge.Article",
    tables=(
        IndexedTable(
            key="article", table="knowledge_article", columns=(Column("title"), Column("body"))
        ),
    ),
    name_fields=("title",),
)

INDEXES: dict[str, SearchIndex] = {
    i.object_type: i for i in (ACCOUNT, CONTACT, LEAD, OPPORTUNITY, ARTICLE)
}
BY_MODEL: dict[str, SearchIndex] = {i.model_label: i for i in INDEXES.values()}
