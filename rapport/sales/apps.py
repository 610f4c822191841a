from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SalesConfig(AppConfig):
    name = "rapport.sales"
    label = "sales"
    verbose_name = "Sales"

    def ready(self) -> None:
        from rapport.sales.stage_totals import repair_after_migrate

        # The stage totals' triggers (sales.0009): a later migration that rebuilds the
        # opportunity table on SQLite drops them; put them back and refill the totals.
        post_migrate.connect(
            repair_after_migrate, sender=self, dispatch_uid="sales_stage_totals_repair"
        )
