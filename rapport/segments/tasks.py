"""Background tasks: take ids, call services."""

from django_tasks import task


@task()
def segments_nightly_task() -> dict:
    """Lifecycle stages and every dynamic segment brought up to date; the rows it fixed."""
    from rapport.segments.membership import segments_refresh_all

    return segments_refresh_all()


@task()
def segment_refresh_task(segment_id: int) -> dict:
    from rapport.segments.membership import segment_refresh
    from rapport.segments.models import Segment

    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is None:
        return {"added": 0, "removed": 0}
    added, removed = segment_refresh(segment)
    return {"added": added, "removed": removed}
