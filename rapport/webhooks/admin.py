from django.contrib import admin

from rapport.webhooks.models import (
    AllowedNetwork,
    InboundEvent,
    InboundSource,
    WebhookDelivery,
    WebhookSubscription,
)


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["name", "url", "is_active", "consecutive_failures", "last_success_at"]
    exclude = ["secret", "previous_secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event_type", "subscription", "state", "attempts", "next_try_at", "created_at"]
    list_filter = ["state"]
    exclude = ["secret"]


@admin.register(InboundSource)
class InboundSourceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "user", "is_active"]
    exclude = ["token_digest", "signing_secret"]


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "source", "outcome", "contact", "received_at"]
    list_filter = ["outcome"]


admin.site.register(AllowedNetwork)
