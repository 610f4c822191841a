import time

from django.core.management.base import BaseCommand, CommandError

from rapport.analytics.models import RunStatus
from rapport.analytics.services import analytics_refresh_now
from rapport.records.exceptions import Conflict


class Command(BaseCommand):
    help = (
        "Refresh the analytics warehouse and the customer scores: incremental (orders changed "
        "since the last run) by default, a full rebuild with --full."
    )

    def add_arguments(self, parser):
        parser.add_argument("--full", action="store_true", help="rebuild from all orders")

    def handle(self, *args, full: bool, **options):
        started = time.perf_counter()
        try:
            run = analytics_refresh_now(full=full)
        except Conflict as exc:
            raise CommandError(str(exc))
        if run.status != RunStatus.SUCCEEDED:
            raise CommandError(f"refresh {run.pk} failed: {run.error}")
        summary = run.summary
        self.stdout.write(
            f"run {run.pk} ({run.kind}): {run.rows} orders read, "
            f"{summary.get('transactions', 0)} orders and {summary.get('order_lines', 0)} lines "
            f"in the warehouse, {run.customers} customers scored, "
            f"{summary.get('at_risk', 0)} at risk; done in {time.perf_counter() - started:.1f} s"
        )
        if summary.get("unconverted_orders"):
            self.stderr.write(
                f"{summary['unconverted_orders']} orders have no exchange rate for their "
                "currency: they count as purchases without value"
            )
