"""`manage.py demo_data [--if-empty] [--accounts N]`: load the demo company."""

import time

from django.core.management.base import BaseCommand

from rapport.identity.models import User


class Command(BaseCommand):
    help = "Load demo data (users, teams, accounts, contacts, leads, opportunities, orders, activities)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing if users exist already"
        )
        parser.add_argument(
            "--accounts", type=int, default=200, help="number of accounts (scales the rest)"
        )
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args, if_empty: bool, accounts: int, seed: int, **options):
        from rapport.demo.builder import demo_build

        if User.objects.exists():
            if if_empty:
                self.stdout.write("Data present: demo data not loaded again.")
                self._print_logins()
                return
            self.stderr.write(
                "The database has users already; demo data goes into an empty database only."
            )
            raise SystemExit(1)
        start = time.monotonic()
        result = demo_build(
            accounts=accounts, seed=seed, progress=lambda m: self.stdout.write(f"  … {m}")
        )
        counts = ", ".join(f"{n} {name}" for name, n in result.counts.items())
        self.stdout.write(
            self.style.SUCCESS(f"Demo data loaded in {time.monotonic() - start:.1f}s: {counts}")
        )
        self._print_logins()

    def _print_logins(self) -> None:
        from rapport.demo.builder import DEMO_LOGINS, DEMO_PASSWORD

        if not User.objects.filter(username="admin").exists():
            return  # not the demo company
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for name, role in DEMO_LOGINS:
            self.stdout.write(f"  {name:<8} {role}")
