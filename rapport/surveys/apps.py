from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "rapport.surveys"
    label = "surveys"
    verbose_name = "Surveys (CSAT, NPS)"

    def ready(self) -> None:
        # Explicit registration: the timeline tells us about every case status change; a
        # case resolved sends its CSAT survey (rapport/surveys/services.py).
        from rapport.surveys import services
        from rapport.timeline.hooks import timeline_listener

        timeline_listener(services.on_timeline_events)
