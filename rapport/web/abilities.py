"""What the signed-in user may do, so pages offer only that (issue: a read-only user was
offered "New account", a rep "Settings", and both then got a 403).

Each answer runs the very check the service raises PermissionDenied from, so a page and the
service behind it cannot disagree. Templates read them as `can.<ability>` (context processor
below); list pages get `can_write` from their ListConfig's own check.
"""

from collections.abc import Callable
from functools import cached_property

from rapport.analytics.services import can_refresh
from rapport.identity.services import can_view_settings
from rapport.imports.services.rights import require_import_writer
from rapport.records.exceptions import PermissionDenied
from rapport.records.services import require_writer
from rapport.sales.services.guards import require_catalog_manager


def passes(check: Callable[..., None], *args) -> bool:
    """Whether `check(*args)` lets the call through (does not raise PermissionDenied)."""
    try:
        check(*args)
    except PermissionDenied:
        return False
    return True


class Abilities:
    def __init__(self, user):
        self.user = user

    @cached_property
    def write_records(self) -> bool:
        return self.user.is_authenticated and passes(require_writer, self.user)

    @cached_property
    def import_records(self) -> bool:
        return self.user.is_authenticated and passes(require_import_writer, self.user)

    @cached_property
    def manage_catalog(self) -> bool:
        return self.user.is_authenticated and passes(require_catalog_manager, self.user)

    @cached_property
    def manage_email_templates(self) -> bool:
        from rapport.mail.config_services import require_template_manager

        return self.user.is_authenticated and passes(require_template_manager, self.user)

    @cached_property
    def view_settings(self) -> bool:
        return self.user.is_authenticated and can_view_settings(self.user)

    @cached_property
    def view_marketing_reports(self) -> bool:
        from rapport.marketing.access import can_view_reports

        return self.user.is_authenticated and can_view_reports(self.user)

    @cached_property
    def refresh_analytics(self) -> bool:
        return self.user.is_authenticated and can_refresh(self.user)


def abilities(request) -> dict:
    """Template context processor: `can` (lazy; nothing is checked until a page asks)."""
    return {"can": Abilities(request.user)}
