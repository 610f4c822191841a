"""manage.py import_file PATH --object contacts --user alice [--mapping m.json]
[--policy update|skip|create] [--dry-run] [--encoding cp1252] [--save-mapping NAME]
[--background]

Imports a CSV or XLSX file as the given user (their rights, their ownership), in the
foreground with a progress line, or queued for the worker with --background. The file is
read where it is (not copied) unless queued. Prints the counts and the first row errors;
exits with status 1 when the import failed.
"""

import json
import shutil
import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from rapport.identity.models import User
from rapport.imports import selectors, services
from rapport.imports.models import ImportObject, ImportPolicy, SavedMapping
from rapport.imports.services.files import human_size, max_bytes, new_upload_path
from rapport.records.exceptions import Conflict, PermissionDenied


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(
            f"{field}: {' '.join(e.messages[0] for e in errors)}"
            for field, errors in exc.error_dict.items()
        )
    return "; ".join(exc.messages)


class Command(BaseCommand):
    help = (
        "Import accounts, contacts, leads, opportunities, products, orders or assets "
        "(installed products) from CSV/XLSX."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the CSV or XLSX file")
        parser.add_argument("--object", required=True, choices=ImportObject.values)
        parser.add_argument("--user", required=True, help="username of the importing user")
        parser.add_argument("--mapping", help="JSON file {column header: field key or null}")
        parser.add_argument("--saved-mapping", help="name of a mapping saved by the user")
        parser.add_argument("--save-mapping", help="save the mapping used under this name")
        parser.add_argument("--policy", default="update", choices=ImportPolicy.values)
        parser.add_argument("--dry-run", action="store_true", help="validate, write nothing")
        parser.add_argument("--encoding", help="the file's encoding when it is not UTF-8")
        parser.add_argument(
            "--strict", action="store_true", help="a bad phone rejects its row (not a warning)"
        )
        parser.add_argument(
            "--create-customers",
            action="store_true",
            help="orders: create the contacts of customer emails that match none",
        )
        parser.add_argument(
            "--background", action="store_true", help="queue for the worker and return"
        )

    def handle(self, *args, **options):
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {options['user']!r}")
        source = Path(options["path"])
        if not source.is_file():
            raise CommandError(f"No file {source}")
        if source.stat().st_size > max_bytes():
            raise CommandError(
                f"{source} is {human_size(source.stat().st_size)}: over the import limit of "
                f"{human_size(max_bytes())} (RAPPORT_IMPORT_MAX_BYTES)"
            )
        mapping = None
        if options["mapping"]:
            try:
                mapping = json.loads(Path(options["mapping"]).read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise CommandError(f"Cannot read the mapping: {exc}")
        saved = None
        if options["saved_mapping"]:
            saved = SavedMapping.objects.filter(
                created_by=user, object_type=options["object"], name=options["saved_mapping"]
            ).first()
            if saved is None:
                raise CommandError(f"No saved mapping {options['saved_mapping']!r}")
        path = source.resolve()
        if options["background"]:
            # The worker may run elsewhere: it gets its own copy in the import directory.
            path = new_upload_path(source.name)
            shutil.copyfile(source, path)
        background = options["background"]
        try:
            job = services.import_job_create(
                actor=user,
                object_type=options["object"],
                path=path,
                original_name=source.name,
                policy=options["policy"],
                dry_run=options["dry_run"],
                encoding=options["encoding"],
                mapping=mapping,
                saved_mapping=saved,
                strict=options["strict"],
                create_customers=options["create_customers"],
                read=False,  # the command line reads the header itself (it is no web request)
            )
            job = services.import_job_read(job=job)
            if job.status == "failed" or job.error:
                raise CommandError(job.error)
            if options["save_mapping"]:
                services.saved_mapping_create(
                    actor=user,
                    name=options["save_mapping"],
                    object_type=job.object_type,
                    mapping=job.mapping,
                )
            self._show_mapping(job)
            services.import_job_start(job=job, actor=user, enqueue=background)
        except ValidationError as exc:
            raise CommandError(_messages(exc))
        except (PermissionDenied, Conflict) as exc:
            raise CommandError(str(exc))
        if background:
            self.stdout.write(f"Import #{job.pk} queued; follow it with GET /api/imports/{job.pk}")
            return
        job = services.import_run(job=job, progress=self._progress)
        sys.stderr.write("\n")
        self._report(job)
        if job.status != "done":
            raise CommandError(f"Import #{job.pk} {job.status}: {job.error}")

    def _show_mapping(self, job) -> None:
        self.stdout.write(
            f"Import #{job.pk}: {job.original_name} ({job.file_format}, "
            f"{job.encoding or 'binary'}) → {job.object_type}, policy {job.policy}"
            + (" (dry run)" if job.dry_run else "")
        )
        for column, field in job.mapping.items():
            self.stdout.write(f"  {column!r:32} → {field or '(ignored)'}")

    def _progress(self, done: int, total: int, counts) -> None:
        percent = done * 100 // total if total else 0
        bar = "#" * (percent // 5) + "." * (20 - percent // 5)
        sys.stderr.write(
            f"\r[{bar}] {percent:3d}% {done:,}/{total:,} rows  created {counts['created']:,} "
            f"updated {counts['updated']:,} failed {counts['failed']:,}"
        )
        sys.stderr.flush()

    def _report(self, job) -> None:
        verb = "would be " if job.dry_run else ""
        self.stdout.write(
            f"Import #{job.pk} {job.status}: {job.rows_done:,} rows; {verb}created {job.created:,}, "
            f"{verb}updated {job.updated:,}, unchanged {job.unchanged:,}, skipped "
            f"{job.skipped:,}, rejected {job.failed:,}"
        )
        for key, value in sorted(job.extra.items()):
            self.stdout.write(f"  {key.replace('_', ' ')}: {value:,}")
        errors = list(selectors.row_errors_of(job)[:20])
        for error in errors:
            where = f" [{error.column}]" if error.column else ""
            self.stdout.write(f"  row {error.row_number}{where}: {error.message}")
        if job.failed > len(errors):
            self.stdout.write(f"  … all rejected rows: GET /api/imports/{job.pk}/rejected.csv")
