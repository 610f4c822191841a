from django.contrib import admin

from rapport.activities.models import Activity


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["kind", "subject", "owner", "occurred_at", "done"]
    list_filter = ["kind", "done", "channel"]
    raw_id_fields = ["owner", "created_by", "account", "contact", "lead", "opportunity"]
    filter_horizontal = ["attendee_contacts", "attendee_users"]
