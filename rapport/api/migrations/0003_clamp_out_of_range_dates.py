"""Dates and times outside 1900–2200 stored before the range was checked (issue 16) cannot be
read back on PostgreSQL and break every page that lists them: report them and clamp them to
the nearest bound (the same as `manage.py check_dates --fix`)."""

from django.db import migrations


def clamp(apps, schema_editor):
    from rapport.records.dates import dates_out_of_range

    report = dates_out_of_range(
        apps.get_models(), fix=True, using=schema_editor.connection.alias
    )
    for line in report:
        print(f"\n  clamped out-of-range dates: {line}")


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0002_initial"),
        ("accounts", "0003_account_closed_at"),
        ("activities", "0002_initial"),
        ("analytics", "0002_churn_source_upsell"),
        ("duplicates", "0001_initial"),
        ("identity", "0001_initial"),
        ("imports", "0001_initial"),
        ("leads", "0001_initial"),
        ("orders", "0001_initial"),
        ("records", "0001_initial"),
        ("sales", "0003_opportunity_board_index"),
        ("scheduling", "0001_initial"),
        ("timeline", "0003_occurred_at_index"),
    ]

    operations = [migrations.RunPython(clamp, migrations.RunPython.noop)]
