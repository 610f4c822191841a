from django.contrib import admin

from rapport.records.models import CustomFieldDefinition, OrgDefault, RecordShare, Tag


class OwnedRecordAdmin(admin.ModelAdmin):
    """Base admin of owned records: shows soft-deleted rows too, never hard-deletes in bulk."""

    list_filter = ["owner", "team"]
    raw_id_fields = ["owner"]
    readonly_fields = ["version", "created_at", "updated_at"]
    actions = None

    def get_queryset(self, request):
        return self.model.all_objects.select_related("owner", "team")


admin.site.register(Tag)
admin.site.register(OrgDefault, list_display=["object_type", "access"])
admin.site.register(
    RecordShare, list_display=["object_type", "object_id", "user", "team", "access"]
)
admin.site.register(
    CustomFieldDefinition, list_display=["object_type", "key", "label", "field_type", "required"]
)
