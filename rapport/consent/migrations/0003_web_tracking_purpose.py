"""The website tracking purpose (RAPPORT_TRACKING_PURPOSE, default `web-tracking`), so the
tracking script has a consent to ask for from the first install: a web form offers it as a
checkbox and the preference centre and portal as "Website tracking"."""

from django.conf import settings
from django.db import migrations


def create_tracking_purpose(apps, schema_editor):
    ConsentPurpose = apps.get_model("consent", "ConsentPurpose")
    slug = getattr(settings, "RAPPORT_TRACKING_PURPOSE", "web-tracking") or "web-tracking"
    ConsentPurpose.objects.get_or_create(
        slug=slug,
        defaults={
            "name": "Website visits",
            "description": "Remember the pages you visit on our website, to suggest what fits.",
            "policy_text": (
                "We record the pages of our website you visit (address, title, time) with your "
                "contact record, to understand what interests you. No third party receives "
                "them. You can withdraw this consent at any time in the preference centre."
            ),
            "requires_double_opt_in": False,
        },
    )


class Migration(migrations.Migration):
    dependencies = [("consent", "0002_web_tracking_channel")]

    operations = [migrations.RunPython(create_tracking_purpose, migrations.RunPython.noop)]
