from django.core.management.base import BaseCommand

from rapport.search.services import search_optimize


class Command(BaseCommand):
    help = "Merge the search index segments left by many writes (SQLite FTS5 'optimize')."

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default")

    def handle(self, *args, database: str, **options):
        for name in search_optimize(using=database):
            self.stdout.write(f"optimized {name}")
