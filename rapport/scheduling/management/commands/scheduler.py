"""Run the periodic jobs of settings.RAPPORT_SCHEDULE: `manage.py scheduler` (one process
is enough; more are safe: a due job is enqueued once). `--once` checks one time and exits
(for cron)."""

import time

from django.core.management.base import BaseCommand

from rapport.scheduling.services import schedule_sync, schedule_tick


class Command(BaseCommand):
    help = "Enqueue the periodic jobs (analytics refresh, duplicate scans, purges) when due."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="check once and exit")
        parser.add_argument("--interval", type=float, default=30.0, help="seconds between checks")

    def handle(self, *args, once: bool = False, interval: float = 30.0, **options):
        for entry in schedule_sync():
            self.stdout.write(f"{entry.name}: next at {entry.next_due_at:%Y-%m-%d %H:%M} UTC")
        while True:
            for name in schedule_tick():
                self.stdout.write(f"enqueued {name}")
            if once:
                return
            time.sleep(interval)
