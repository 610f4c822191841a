from django.contrib import admin

from rapport.records.admin import OwnedRecordAdmin
from rapport.sales.models import (
    ExchangeRate,
    LineItem,
    Opportunity,
    Pipeline,
    PriceBook,
    PriceBookEntry,
    Product,
    Stage,
)


class StageInline(admin.TabularInline):
    model = Stage
    extra = 0


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    list_display = ["name", "is_default", "position"]
    inlines = [StageInline]


class LineItemInline(admin.TabularInline):
    model = LineItem
    extra = 0
    raw_id_fields = ["product"]


@admin.register(Opportunity)
class OpportunityAdmin(OwnedRecordAdmin):
    list_display = ["name", "account", "stage", "amount", "currency", "owner", "deleted_at"]
    list_filter = ["pipeline", "stage", "owner"]
    search_fields = ["name"]
    raw_id_fields = ["owner", "account", "primary_contact"]
    inlines = [LineItemInline]


class PriceBookEntryInline(admin.TabularInline):
    model = PriceBookEntry
    extra = 0
    raw_id_fields = ["product"]


@admin.register(PriceBook)
class PriceBookAdmin(admin.ModelAdmin):
    list_display = ["name", "currency", "is_default", "is_active"]
    inlines = [PriceBookEntryInline]


admin.site.register(
    Product,
    list_display=["sku", "name", "category", "unit_price", "is_active"],
    search_fields=["sku", "name"],
)
admin.site.register(ExchangeRate, list_display=["currency", "rate", "valid_from"])
