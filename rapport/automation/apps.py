from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "rapport.automation"
    label = "automation"
    verbose_name = "Automation"

    def ready(self) -> None:
        # The timeline tells the outbox about every event written; the built-in actions
        # fill the registry. Both are explicit registrations, not model signals.
        from rapport.automation import actions, outbox
        from rapport.timeline.hooks import timeline_listener

        timeline_listener(outbox.on_timeline_events)
        actions.register_builtin_actions()
        from rapport.automation.provided import provided_actions

        for spec in provided_actions():
            actions.register_action(spec, replace=True)
