from django.apps import AppConfig


class TerritoriesConfig(AppConfig):
    name = "rapport.territories"
    label = "territories"
    verbose_name = "Territories and assignment rules"

    def ready(self) -> None:
        # The "assign by rules" automation action (the same service the write paths call).
        from rapport.automation.actions import register_action
        from rapport.territories.assignment import assignment_action_spec

        register_action(assignment_action_spec(), replace=True)
