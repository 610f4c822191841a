import time

from django.core.management.base import BaseCommand

from rapport.search.indexes import INDEXES
from rapport.search.services import search_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the search indexes from the tables (after an import in raw SQL that "
        "bypassed the triggers, or after restoring a database without them)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--type",
            action="append",
            choices=sorted(INDEXES),
            dest="types",
            help="only this record type (repeatable; default: all)",
        )
        parser.add_argument("--database", default="default")

    def handle(self, *args, types, database: str, **options):
        started = time.perf_counter()
        counts = search_rebuild(object_types=types, using=database)
        for key, count in counts.items():
            self.stdout.write(f"{key}: {count} rows indexed")
        self.stdout.write(f"done in {time.perf_counter() - started:.1f} s")
