"""External ids (an order's or an activity's id in the system it comes from) are the key of
the user who wrote them: unique per (writer, source, external_id), the writer being the
record's `created_by`.

Why the writer and not the organisation: a key shared by everyone says whether a record
exists that the caller cannot see (a 409 where a fresh id answers 201), and lets anyone squat
the ids another team's import needs. Scoped to the writer, a write only ever meets the
writer's own earlier writes: another person's record, visible or not, is never found, never
answered about and never given the caller's data. An integration replays its own sends
(the same user and source give back the stored record); two people who send the same id
make two records, each in their own key space. See docs/architecture.md ("External ids").

The database enforces it (a unique constraint on created_by, source, external_id per model);
every path that looks an external id up (the single and bulk API, the file import) goes
through `own_external_ids`.
"""

from django.db.models import Model, Q

from rapport.identity.models import User


def own_external_q(*, writer: User, source: str, external_ids) -> Q:
    """The writer's own records among these external ids of this source."""
    return Q(created_by=writer, source=source or "", external_id__in=list(external_ids))


def own_external_ids(
    model: type[Model], *, writer: User, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """(source, external id) → pk of the writer's own records with those keys, and no
    other's."""
    if not keys:
        return {}
    q = Q()
    for source in {s for s, _ in keys}:
        q |= own_external_q(
            writer=writer, source=source, external_ids={e for s, e in keys if s == source}
        )
    rows = model._default_manager.filter(q).values_list("source", "external_id", "pk")
    return {(source, ext): pk for source, ext, pk in rows}


def own_external_id(model: type[Model], *, writer: User, source: str, external_id: str):
    """The pk of the writer's own record with this key, or None."""
    return own_external_ids(model, writer=writer, keys={(source or "", external_id)}).get(
        (source or "", external_id)
    )
