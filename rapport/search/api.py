"""REST endpoint of the global search (typeahead)."""

from ninja import Query, Router

from rapport.records.api import ERRORS
from rapport.search import selectors
from rapport.search.schemas import SearchOut, SearchParams

router = Router(tags=["search"])


@router.get("", response={200: SearchOut, **ERRORS}, operation_id="search")
def search(request, params: Query[SearchParams]):
    """Records the user may see matching every word of `q`, grouped by type, names that are
    or start with the query first."""
    groups = selectors.search_typeahead(
        user=request.user, q=params.q, types=params.types, limit=params.limit
    )
    return {"q": params.q, "groups": groups}
