from django.contrib import admin

from rapport.leads.models import Lead
from rapport.records.admin import OwnedRecordAdmin


@admin.register(Lead)
class LeadAdmin(OwnedRecordAdmin):
    list_display = ["__str__", "email", "status", "source", "owner", "deleted_at"]
    list_filter = ["status", "source", "owner"]
    search_fields = ["last_name", "company", "email"]
