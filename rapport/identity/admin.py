from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm

from rapport.identity.models import ApiToken, Team, User
from rapport.identity.services import api_tokens_revoke_all


class _PasswordChangeRevokingTokens(AdminPasswordChangeForm):
    """An administrator setting someone's password also revokes their API tokens (as the
    user's own password change and reset do)."""

    def save(self, commit=True):
        user = super().save(commit=commit)
        if commit:
            api_tokens_revoke_all(user=user)
        return user


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "email", "first_name", "last_name", "role", "team", "is_active"]
    list_filter = ["role", "team", "is_active"]
    fieldsets = [*BaseUserAdmin.fieldsets, ("Rapport", {"fields": ["role", "team"]})]
    change_password_form = _PasswordChangeRevokingTokens


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "parent", "manager"]
    raw_id_fields = ["manager"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "digest", "created_at", "last_used_at"]
