"""URL patterns of one object's pages, named the way the shared list and record-page
machinery reverses them: `<namespace>:<name>_<action>`."""

from django.urls import path

from rapport.records.services import require_writer
from rapport.web.decorators import allowed_by


def object_urls(prefix: str, name: str, *, lists: dict, pages: dict, create, edit, delete):
    """List, create, export, bulk, trash, detail, edit, delete, restore, inline field,
    timeline and composer URLs under `/<prefix>/`."""
    return [
        path(f"{prefix}/", lists["list"], name=f"{name}_list"),
        path(f"{prefix}/new", allowed_by(require_writer)(create), name=f"{name}_create"),
        path(f"{prefix}/export.csv", lists["export"], name=f"{name}_export"),
        path(f"{prefix}/bulk", lists["bulk"], name=f"{name}_bulk"),
        path(f"{prefix}/trash", lists["trash"], name=f"{name}_trash"),
        path(f"{prefix}/<int:pk>/", pages["detail"], name=f"{name}_detail"),
        path(f"{prefix}/<int:pk>/edit", edit, name=f"{name}_edit"),
        path(f"{prefix}/<int:pk>/delete", delete, name=f"{name}_delete"),
        path(f"{prefix}/<int:pk>/restore", lists["restore"], name=f"{name}_restore"),
        path(f"{prefix}/<int:pk>/fields/<slug:name>/", pages["field"], name=f"{name}_field"),
        path(f"{prefix}/<int:pk>/timeline", pages["timeline"], name=f"{name}_timeline"),
        path(f"{prefix}/<int:pk>/composer", pages["composer"], name=f"{name}_composer"),
    ]
