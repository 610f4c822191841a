"""GET /api/cases renders its page straight to JSON (`rapport.api.fast`): the very bytes
ninja's own serialisation of CasePage renders for the same cases — queue and owner names
(an owner with and without a full name, none), details and custom values, datetimes set and
empty, for the owner and the admin, first page and the next."""

from django.utils import timezone

from rapport.api.pagination import keyset_page
from rapport.api.router import api as ninja_api
from rapport.cases import selectors
from rapport.cases.models import Case, due_sort
from rapport.cases.schemas import CasePage


def _ninja_bytes(user, *, cursor=None, limit=50) -> bytes:
    qs = selectors.case_list(user=user, view=None)
    qs = qs.select_related(None).select_related("queue", "owner").annotate(due_sort=due_sort())
    page = keyset_page(
        qs,
        sort="due_sort",
        allowed={"due_sort", "created_at", "updated_at", "number"},
        cursor=cursor,
        limit=limit,
    )
    context = {"request": None, "response_status": 200}
    data = {"items": page.items, "next_cursor": page.next_cursor, "count": page.count}
    dumped = CasePage.model_validate(data, context=context).model_dump(context=context)
    return ninja_api.renderer.render(None, dumped, response_status=200)


def test_the_list_is_the_bytes_ninja_renders(personas, api_as, desk):
    owner = api_as(personas.owner)
    made = [
        owner.post("/api/cases", {"subject": f"Case {i}", "contact_id": desk["ann"].pk}).data
        for i in range(4)
    ]
    now = timezone.now()
    Case.objects.filter(pk=made[0]["id"]).update(
        owner=personas.owner,  # Olga Owner
        queue=desk["queue"],
        due_at=now,
        details={"ivr": ["1", "2"], "duration": 12},
        custom={"x": 1.5},
        first_response_at=now,
    )
    Case.objects.filter(pk=made[1]["id"]).update(owner=personas.teammate)  # no full name
    Case.objects.filter(pk=made[2]["id"]).update(owner=None, queue=None)
    for user, client in ((personas.owner, owner), (personas.admin, api_as(personas.admin))):
        first = client.get("/api/cases", limit=3)
        assert first.status_code == 200
        assert first.content == _ninja_bytes(user, limit=3)
        cursor = first.data["next_cursor"]
        assert cursor
        second = client.get("/api/cases", limit=3, cursor=cursor)
        assert second.content == _ninja_bytes(user, cursor=cursor, limit=3)
        assert [c["id"] for c in first.data["items"] + second.data["items"]]
    body = owner.get("/api/cases").data
    by_id = {c["id"]: c for c in body["items"]}
    assert by_id[made[0]["id"]]["owner_name"] == "Olga Owner"
    assert by_id[made[1]["id"]]["owner_name"] == "teammate"
    assert by_id[made[2]["id"]]["queue_name"] is None
