"""Writes of the imports app: job lifecycle (jobs.py), the run (runner.py), file reading
(files.py), mapping (mapping.py), row reading (cleaning.py) and the object importers:
accounts.py, contacts.py and leads.py in bulk (owned.py, bulk_sql.py); products and
opportunities (through_services.py) and orders (orders.py) through the domain services."""

from rapport.imports.services.files import FileProblem, LimitedUploadHandler
from rapport.imports.services.jobs import (
    import_files_purge,
    import_job_cancel,
    import_job_create,
    import_job_delete,
    import_job_read,
    import_job_start,
    import_job_update,
    saved_mapping_create,
    saved_mapping_delete,
)
from rapport.imports.services.rights import require_import_writer, require_importer
from rapport.imports.services.runner import import_run

__all__ = [
    "FileProblem",
    "LimitedUploadHandler",
    "import_files_purge",
    "import_job_cancel",
    "import_job_create",
    "import_job_delete",
    "import_job_read",
    "import_job_start",
    "import_job_update",
    "import_run",
    "require_import_writer",
    "require_importer",
    "saved_mapping_create",
    "saved_mapping_delete",
]
