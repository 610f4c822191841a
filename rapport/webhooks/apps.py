from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "rapport.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        # Subscriptions receive every record event the timeline is told about (an explicit
        # registration, not a model signal).
        from rapport.timeline.hooks import timeline_listener
        from rapport.webhooks.events import on_timeline_events

        timeline_listener(on_timeline_events)
