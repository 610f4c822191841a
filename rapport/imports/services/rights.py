"""Who may import what."""

from rapport.identity.models import User
from rapport.imports.models import ImportObject
from rapport.records.exceptions import PermissionDenied
from rapport.sales.services.guards import require_catalog_manager


def require_import_writer(actor: User) -> None:
    """Importing writes records: read-only users may not (PermissionDenied, 403)."""
    if not actor.is_active or actor.is_read_only:
        raise PermissionDenied("Read-only users cannot import records", code="read_only")


def require_importer(actor: User, object_type: str) -> None:
    """Read-only users may import nothing; products are the catalogue's (managers and
    admins). Raises PermissionDenied (403)."""
    require_import_writer(actor)
    if object_type == ImportObject.PRODUCTS:
        require_catalog_manager(actor)
