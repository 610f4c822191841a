"""`manage.py sla_recompute [--case N ...]`: recompute SLA clocks from their history after a
policy or calendar changed (all open cases by default)."""

from django.core.management.base import BaseCommand

from rapport.sla.services import sla_recompute


class Command(BaseCommand):
    help = "Recompute the SLA clocks of open cases (or of the given case ids) from history."

    def add_arguments(self, parser):
        parser.add_argument("--case", type=int, action="append", dest="cases", default=[])

    def handle(self, *args, cases, **options):
        from rapport.cases.models import Case

        selected = Case.objects.filter(pk__in=cases) if cases else None
        count = sla_recompute(cases=selected)
        self.stdout.write(f"Recomputed {count} case(s).")
