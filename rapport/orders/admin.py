from django.contrib import admin

from rapport.orders.models import Order, OrderLine


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    raw_id_fields = ["product"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["__str__", "account", "contact", "ordered_at", "channel", "total", "currency"]
    list_filter = ["channel", "status"]
    raw_id_fields = ["account", "contact", "created_by"]
    inlines = [OrderLineInline]
