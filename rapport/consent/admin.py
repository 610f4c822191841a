"""The ledger in Django's admin is read-only: no add, change or delete (it is append-only;
the services write it). Purposes and suppressions are managed on Settings › Consent."""

from django.contrib import admin

from rapport.consent.models import ConsentRecord


@admin.register(ConsentRecord)
class ConsentRecordAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "contact", "lead", "purpose", "channel", "action", "source")
    list_filter = ("action", "source", "channel", "purpose")
    list_select_related = ("contact", "lead", "purpose")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
