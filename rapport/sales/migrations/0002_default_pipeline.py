"""Data: the default "Sales" pipeline, so that a fresh install can take opportunities."""

from django.db import migrations

PIPELINE = "Sales"
STAGES = [
    # (name, probability, kind)
    ("Prospecting", 10, "open"),
    ("Qualification", 20, "open"),
    ("Proposal", 50, "open"),
    ("Negotiation", 75, "open"),
    ("Closed Won", 100, "won"),
    ("Closed Lost", 0, "lost"),
]


def create_default_pipeline(apps, schema_editor):
    Pipeline = apps.get_model("sales", "Pipeline")
    Stage = apps.get_model("sales", "Stage")
    if Pipeline.objects.filter(name=PIPELINE).exists():
        return
    pipeline = Pipeline.objects.create(
        name=PIPELINE, is_default=not Pipeline.objects.filter(is_default=True).exists()
    )
    Stage.objects.bulk_create(
        Stage(pipeline=pipeline, name=name, position=i, probability=probability, kind=kind)
        for i, (name, probability, kind) in enumerate(STAGES, start=1)
    )


def remove_default_pipeline(apps, schema_editor):
    Pipeline = apps.get_model("sales", "Pipeline")
    Opportunity = apps.get_model("sales", "Opportunity")
    StageChange = apps.get_model("sales", "StageChange")
    pipeline = Pipeline.objects.filter(name=PIPELINE).first()
    if pipeline is None:
        return
    # A pipeline that holds opportunities is real data by now: leave it.
    if Opportunity._base_manager.filter(pipeline=pipeline).exists():
        return
    if StageChange.objects.filter(to_stage__pipeline=pipeline).exists():
        return
    pipeline.delete()


class Migration(migrations.Migration):
    dependencies = [("sales", "0001_initial")]

    operations = [migrations.RunPython(create_default_pipeline, remove_default_pipeline)]
