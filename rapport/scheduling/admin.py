from django.contrib import admin

from rapport.scheduling.models import ScheduleEntry


@admin.register(ScheduleEntry)
class ScheduleEntryAdmin(admin.ModelAdmin):
    list_display = ["name", "next_due_at", "last_enqueued_at", "last_task_id"]
