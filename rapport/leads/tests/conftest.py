"""Lead fixtures: leads made through the service, as a given owner."""

import pytest

from rapport.leads.services import lead_create


@pytest.fixture
def make_lead(personas):
    """make_lead(owner=..., **fields) → a lead created by its owner through the service."""

    def make(owner=None, tags=None, custom=None, **fields):
        owner = owner or personas.owner
        data = {"last_name": "Doe", "first_name": "Jane", "company": "Acme", **fields}
        return lead_create(actor=owner, fields=data, tags=tags, custom=custom)

    return make


@pytest.fixture
def pipeline(db):
    """The default pipeline: two open stages, a won and a lost one (first open: Qualify)."""
    from rapport.sales.models import Pipeline, Stage, StageKind

    # Independent of the pipeline the sales data migration installs.
    Pipeline.objects.update(is_default=False)
    pipeline = Pipeline.objects.create(name="Inbound", is_default=True)
    Stage.objects.create(pipeline=pipeline, name="Qualify", position=1, probability=10)
    Stage.objects.create(pipeline=pipeline, name="Propose", position=2, probability=50)
    Stage.objects.create(
        pipeline=pipeline, name="Won", position=3, probability=100, kind=StageKind.WON
    )
    Stage.objects.create(
        pipeline=pipeline, name="Lost", position=4, probability=0, kind=StageKind.LOST
    )
    return pipeline
