"""Background tasks of search."""

from django_tasks import task

from rapport.search.services import search_optimize


@task()
def search_optimize_task() -> list[str]:
    """Merge the search index segments (run nightly by the scheduler, or after an import)."""
    return search_optimize()
