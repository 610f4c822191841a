from django.apps import AppConfig


class SegmentsConfig(AppConfig):
    name = "rapport.segments"
    label = "segments"
    verbose_name = "Segments and lifecycle"

    def ready(self) -> None:
        # Explicit registrations, not model signals: the timeline tells us about every write;
        # the automation registry gets the static-segment actions.
        from rapport.automation.actions import register_action
        from rapport.segments import membership
        from rapport.segments.actions import segment_actions
        from rapport.timeline.hooks import timeline_listener

        timeline_listener(membership.on_timeline_events)
        for spec in segment_actions():
            register_action(spec, replace=True)
