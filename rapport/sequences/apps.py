from django.apps import AppConfig


class SequencesConfig(AppConfig):
    name = "rapport.sequences"
    label = "sequences"
    verbose_name = "Guided sequences"

    def ready(self) -> None:
        # Steps run as actions of the one automation engine; replies and bounces arrive through
        # the mail app's after-ingest hook, meetings through the timeline listeners. All
        # explicit registrations, no model signals.
        from rapport.automation.actions import register_action
        from rapport.automation.owners import register_rule_owner
        from rapport.mail.inbound import register_after_ingest_many
        from rapport.sequences import engine
        from rapport.timeline.hooks import timeline_listener

        for spec in engine.action_specs():
            register_action(spec, replace=True)
        register_after_ingest_many(engine.on_mail_ingested)
        timeline_listener(engine.on_timeline_events)
        # A sequence's rule is changed through the sequence only (read-only in Automation).
        register_rule_owner(engine.rule_owners)
