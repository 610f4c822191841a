"""Find stored dates and times outside 1900–2200 (written before the API checked them)."""

from django.apps import apps
from django.core.management.base import BaseCommand

from rapport.records.dates import FIRST_YEAR, LAST_YEAR, dates_out_of_range


class Command(BaseCommand):
    help = f"Report (and with --fix clamp) dates outside the years {FIRST_YEAR}–{LAST_YEAR}."

    def add_arguments(self, parser):
        parser.add_argument(
            "--fix", action="store_true", help="clamp them to the nearest bound of the range"
        )

    def handle(self, *args, fix: bool = False, **options):
        report = dates_out_of_range(apps.get_models(), fix=fix)
        for line in report:
            self.stdout.write(line)
        if not report:
            self.stdout.write("No dates out of range.")
        elif fix:
            self.stdout.write(f"Clamped to {FIRST_YEAR}-01-01 / {LAST_YEAR}-12-31.")
