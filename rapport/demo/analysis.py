"""What the background jobs would compute, done once right after the demo is loaded: the
analytics refresh (warehouse, scores, model fits) and the duplicate scans. Without it the
analytics pages and the duplicates queue are empty until the nightly jobs run, and a
newcomer trying the demo sees nothing there. Later refreshes come from the scheduler and the
"Refresh now" / "Scan now" buttons, carried out by the worker."""

from __future__ import annotations

from collections.abc import Callable

from rapport.analytics.models import RunStatus
from rapport.analytics.services import analytics_refresh_now
from rapport.duplicates.models import DuplicateObjectType
from rapport.duplicates.services import duplicates_find


def demo_analyse(*, progress: Callable[[str], None]) -> None:
    """A full analytics refresh and a full duplicate scan of every record type. A failed
    refresh is reported, not raised: the demo data stays usable without analytics."""
    run = analytics_refresh_now(full=True)
    if run.status == RunStatus.SUCCEEDED:
        progress(f"analytics computed: {run.customers} customers scored")
    else:
        progress(f"analytics refresh failed ({run.error}); retry with `analytics_refresh --full`")
    for object_type in DuplicateObjectType.values:
        scan = duplicates_find(object_type=object_type, full=True)
        found = scan.candidates_new
        noun = "candidate" if found == 1 else "candidates"
        progress(f"duplicate scan of {object_type}s: {found} {noun} to review")
