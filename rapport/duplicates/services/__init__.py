"""Writes of the duplicates app: detection runs, review and merge/undo."""

from rapport.duplicates.services.detection import duplicate_keys_refresh, duplicates_find
from rapport.duplicates.services.merge import record_merge
from rapport.duplicates.services.review import candidate_dismiss, candidate_reopen
from rapport.duplicates.services.undo import merge_undo

__all__ = [
    "candidate_dismiss",
    "candidate_reopen",
    "duplicate_keys_refresh",
    "duplicates_find",
    "merge_undo",
    "record_merge",
]
