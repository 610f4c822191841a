"""Who sees the marketing reports: organisation-wide figures (cost, revenue) are for
managers and administrators, like the analytics' whole-organisation scope."""

from rapport.identity.models import Role
from rapport.records.exceptions import PermissionDenied


def can_view_reports(user) -> bool:
    return bool(
        user.is_authenticated and user.is_active and (user.is_admin or user.role == Role.MANAGER)
    )


def require_reports(user) -> None:
    if not can_view_reports(user):
        raise PermissionDenied(
            "Campaign attribution and ROI cover the whole organisation's revenue: managers "
            "and administrators see them",
            code="reports_manager_only",
        )
