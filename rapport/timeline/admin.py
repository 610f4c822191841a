from django.contrib import admin

from rapport.timeline.models import TimelineEvent


@admin.register(TimelineEvent)
class TimelineEventAdmin(admin.ModelAdmin):
    list_display = ["kind", "summary", "actor", "occurred_at"]
    list_filter = ["kind"]
    raw_id_fields = ["actor", "account", "contact", "lead", "opportunity", "activity", "order"]

    def has_change_permission(self, request, obj=None):
        return False  # the timeline is an audit trail
