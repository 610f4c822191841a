from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SearchConfig(AppConfig):
    name = "rapport.search"
    label = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        from rapport.search.services import search_schema_repair_after_migrate

        # Django's SQLite schema editor rebuilds a table (new table, copy, drop, rename) for
        # many field changes, which drops the triggers keeping the index in sync: put back
        # whatever a later migration of accounts, leads or sales removed.
        post_migrate.connect(
            search_schema_repair_after_migrate, sender=self, dispatch_uid="search_schema_repair"
        )
