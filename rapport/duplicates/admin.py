from django.contrib import admin

from rapport.duplicates.models import DuplicateCandidate, DuplicateRun, MergeLog


@admin.register(DuplicateCandidate)
class DuplicateCandidateAdmin(admin.ModelAdmin):
    list_display = ("object_type", "record_a_id", "record_b_id", "score", "status", "found_at")
    list_filter = ("object_type", "status")


@admin.register(DuplicateRun)
class DuplicateRunAdmin(admin.ModelAdmin):
    list_display = ("object_type", "mode", "status", "started_at", "records", "seconds")
    list_filter = ("object_type", "status")


@admin.register(MergeLog)
class MergeLogAdmin(admin.ModelAdmin):
    list_display = ("object_type", "survivor_id", "merged_id", "actor", "at", "undone_at")
    list_filter = ("object_type",)
    raw_id_fields = ("candidate",)
