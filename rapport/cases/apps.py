from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "rapport.cases"
    label = "cases"
    verbose_name = "Service cases"

    def ready(self) -> None:
        from rapport.automation.actions import register_action
        from rapport.cases.automation import create_case_action
        from rapport.cases.intake import case_from_mail
        from rapport.mail.inbound import register_after_ingest

        register_after_ingest(case_from_mail)
        register_action(create_case_action(), replace=True)
