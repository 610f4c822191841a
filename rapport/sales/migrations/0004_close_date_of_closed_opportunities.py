"""Won and lost opportunities without a close date get the day they closed: "won by month"
reports by the close date, which a win or a loss now sets."""

from django.db import migrations
from django.db.models.functions import TruncDate


def fill_close_dates(apps, schema_editor):
    Opportunity = apps.get_model("sales", "Opportunity")
    Opportunity.objects.filter(
        expected_close_date__isnull=True,
        closed_at__isnull=False,
        stage__kind__in=["won", "lost"],
    ).update(expected_close_date=TruncDate("closed_at"))


class Migration(migrations.Migration):
    dependencies = [("sales", "0003_opportunity_board_index")]

    operations = [migrations.RunPython(fill_close_dates, migrations.RunPython.noop)]
