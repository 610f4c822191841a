from django.core.management.base import BaseCommand, CommandError

from rapport.duplicates.matching import MIN_SCORE
from rapport.duplicates.services import duplicates_find
from rapport.duplicates.services.detection import BLOCK_CAP, WINDOW
from rapport.records.exceptions import Conflict

OBJECTS = {
    "accounts": "account",
    "contacts": "contact",
    "leads": "lead",
    "account": "account",
    "contact": "contact",
    "lead": "lead",
}


class Command(BaseCommand):
    help = (
        "Find likely duplicate accounts, contacts or leads and fill the review queue "
        "(incremental after a finished run; --full to rescan everything)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--object",
            action="append",
            choices=sorted(OBJECTS) + ["all"],
            dest="objects",
            help="record type (repeatable; default: all)",
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--full", action="store_const", const=True, dest="full", help="rescan every record"
        )
        mode.add_argument(
            "--incremental",
            action="store_const",
            const=False,
            dest="full",
            help="only records changed since the last finished run",
        )
        parser.add_argument("--min-score", type=int, default=MIN_SCORE)
        parser.add_argument("--block-cap", type=int, default=BLOCK_CAP)
        parser.add_argument("--window", type=int, default=WINDOW)
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="run as background tasks instead (with the default score, cap and window)",
        )

    def handle(self, *args, objects, full, min_score, block_cap, window, enqueue, **options):
        names = objects or ["all"]
        types = sorted(
            {"account", "contact", "lead"} if "all" in names else {OBJECTS[n] for n in names}
        )
        if not 0 <= min_score <= 100 or block_cap < 2 or window < 1:
            raise CommandError("--min-score is 0–100, --block-cap ≥ 2, --window ≥ 1")
        for object_type in types:
            if enqueue:
                from rapport.duplicates.tasks import find_duplicates_task

                result = find_duplicates_task.enqueue(object_type=object_type, full=full)
                self.stdout.write(f"{object_type}: enqueued task {result.id}")
                continue
            try:
                run = duplicates_find(
                    object_type=object_type,
                    full=full,
                    min_score=min_score,
                    block_cap=block_cap,
                    window=window,
                )
            except Conflict as exc:
                raise CommandError(str(exc))
            self.stdout.write(
                f"{object_type}: {run.mode} run, {run.records} records, {run.keys} keys, "
                f"{run.blocks} blocks (largest {run.largest_block}), "
                f"{run.pairs_compared} pairs compared (bound {run.pairs_bound}), "
                f"{run.candidates_new} new / {run.candidates_updated} rescored / "
                f"{run.candidates_removed} removed candidates in {run.seconds:.1f} s"
            )
