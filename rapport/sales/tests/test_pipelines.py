"""Pipelines and stages as data: admin-only configuration, always one usable default."""

import importlib

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError

from rapport.records.exceptions import Conflict, PermissionDenied
from rapport.sales.models import Pipeline, Stage
from rapport.sales.selectors import default_pipeline, first_open_stage, pipeline_is_usable
from rapport.sales.services import (
    pipeline_create,
    pipeline_delete,
    pipeline_update,
    stage_create,
    stage_delete,
    stage_update,
)

pytestmark = pytest.mark.django_db

FULL = [
    {"name": "Open", "kind": "open"},
    {"name": "Won", "kind": "won"},
    {"name": "Lost", "kind": "lost"},
]


def test_data_migration_creates_default_sales_pipeline(pipeline):
    assert default_pipeline() == pipeline
    got = [(s.name, s.probability, s.kind) for s in pipeline.stages.all()]
    assert got == [
        ("Prospecting", 10, "open"),
        ("Qualification", 20, "open"),
        ("Proposal", 50, "open"),
        ("Negotiation", 75, "open"),
        ("Closed Won", 100, "won"),
        ("Closed Lost", 0, "lost"),
    ]
    assert first_open_stage(pipeline).name == "Prospecting"


def test_data_migration_reverses_and_reapplies(pipeline):
    migration = importlib.import_module("rapport.sales.migrations.0002_default_pipeline")
    migration.remove_default_pipeline(apps, None)
    assert not Pipeline.objects.filter(name="Sales").exists()
    assert not Stage.objects.exists()
    migration.create_default_pipeline(apps, None)
    migration.create_default_pipeline(apps, None)  # idempotent
    assert Pipeline.objects.get(name="Sales").stages.count() == 6


def test_data_migration_reverse_keeps_a_pipeline_in_use(pipeline, make_opportunity):
    migration = importlib.import_module("rapport.sales.migrations.0002_default_pipeline")
    make_opportunity()
    migration.remove_default_pipeline(apps, None)
    assert Pipeline.objects.filter(name="Sales").exists()


def test_admin_creates_pipeline_with_stages_and_makes_it_default(personas, pipeline):
    new = pipeline_create(actor=personas.admin, name="Renewals", is_default=True, stages=FULL)
    assert pipeline_is_usable(new)
    assert [s.position for s in new.stages.all()] == [1, 2, 3]
    assert [s.probability for s in new.stages.all()] == [10, 100, 0]
    assert default_pipeline() == new
    pipeline.refresh_from_db()
    assert pipeline.is_default is False


def test_only_admins_change_pipelines(personas, pipeline, stages):
    for user in (personas.manager, personas.owner, personas.reader):
        with pytest.raises(PermissionDenied):
            pipeline_create(actor=user, name="Mine")
        with pytest.raises(PermissionDenied):
            stage_update(stage=stages["Proposal"], actor=user, fields={"probability": 60})


def test_incomplete_pipeline_cannot_be_default(personas):
    with pytest.raises(ValidationError) as exc:
        pipeline_create(actor=personas.admin, name="Half", is_default=True, stages=FULL[:2])
    assert "is_default" in exc.value.message_dict
    half = pipeline_create(actor=personas.admin, name="Half", stages=FULL[:2])
    assert not pipeline_is_usable(half)
    with pytest.raises(ValidationError):
        pipeline_update(pipeline=half, actor=personas.admin, fields={"is_default": True})
    stage_create(pipeline=half, actor=personas.admin, fields={"name": "Lost", "kind": "lost"})
    pipeline_update(pipeline=half, actor=personas.admin, fields={"is_default": True})
    assert default_pipeline() == half


def test_default_pipeline_cannot_be_unset_or_deleted(personas, pipeline):
    with pytest.raises(ValidationError) as exc:
        pipeline_update(pipeline=pipeline, actor=personas.admin, fields={"is_default": False})
    assert exc.value.error_dict["is_default"][0].code == "default_required"
    with pytest.raises(Conflict):
        pipeline_delete(pipeline=pipeline, actor=personas.admin)


def test_duplicate_pipeline_or_stage_name_is_a_conflict(personas, pipeline, stages):
    with pytest.raises(Conflict):
        pipeline_create(actor=personas.admin, name="Sales")
    with pytest.raises(Conflict):
        stage_create(pipeline=pipeline, actor=personas.admin, fields={"name": "Proposal"})
    with pytest.raises(Conflict):
        stage_update(stage=stages["Proposal"], actor=personas.admin, fields={"name": "Negotiation"})


def test_usable_pipeline_keeps_an_open_a_won_and_a_lost_stage(personas, pipeline, stages):
    with pytest.raises(Conflict) as exc:
        stage_delete(stage=stages["Closed Won"], actor=personas.admin)
    assert exc.value.code == "pipeline_needs_stage_kinds"
    with pytest.raises(Conflict):
        stage_update(stage=stages["Closed Lost"], actor=personas.admin, fields={"kind": "open"})
    # Another open stage may go: three others remain.
    stage_delete(stage=stages["Negotiation"], actor=personas.admin)
    assert pipeline.stages.count() == 5


def test_stage_used_by_an_opportunity_cannot_be_deleted_or_rekinded(
    personas, stages, make_opportunity
):
    make_opportunity(stage=stages["Proposal"])
    with pytest.raises(Conflict) as exc:
        stage_delete(stage=stages["Proposal"], actor=personas.admin)
    assert exc.value.code == "stage_in_use"
    with pytest.raises(Conflict):
        stage_update(stage=stages["Proposal"], actor=personas.admin, fields={"kind": "won"})
    stage_update(stage=stages["Proposal"], actor=personas.admin, fields={"probability": 55})
    assert Stage.objects.get(pk=stages["Proposal"].pk).probability == 55


def test_new_stage_goes_last_with_default_probability(personas, pipeline):
    stage = stage_create(pipeline=pipeline, actor=personas.admin, fields={"name": "Legal"})
    assert (stage.position, stage.probability, stage.kind) == (7, 10, "open")
    won = stage_create(
        pipeline=pipeline, actor=personas.admin, fields={"name": "Won 2", "kind": "won"}
    )
    assert won.probability == 100


def test_unused_pipeline_is_deleted_with_its_stages(personas):
    other = pipeline_create(actor=personas.admin, name="Temp", stages=FULL)
    pipeline_delete(pipeline=other, actor=personas.admin)
    assert not Stage.objects.filter(pipeline_id=other.pk).exists()


def test_pipeline_in_use_cannot_be_deleted(personas, make_opportunity):
    other = pipeline_create(actor=personas.admin, name="Temp", stages=FULL)
    make_opportunity(pipeline=other)
    with pytest.raises(Conflict) as exc:
        pipeline_delete(pipeline=other, actor=personas.admin)
    assert exc.value.code == "pipeline_in_use"


# ----- API ----------------------------------------------------------------------------------


def test_everyone_reads_pipelines(personas, api_as, pipeline):
    for user in (personas.reader, personas.outsider, personas.owner):
        r = api_as(user).get("/api/pipelines")
        assert r.status_code == 200
        assert [p["name"] for p in r.data["items"]] == ["Sales"]
        assert r.data["items"][0]["is_usable"] is True
        assert len(r.data["items"][0]["stages"]) == 6
    r = api_as(personas.reader).get(f"/api/pipelines/{pipeline.pk}")
    assert r.status_code == 200
    assert r.data["is_default"] is True
    r = api_as(personas.reader).get(f"/api/pipelines/{pipeline.pk}/stages")
    assert [s["name"] for s in r.data][:2] == ["Prospecting", "Qualification"]


def test_anonymous_and_deactivated_get_401(personas, api_as):
    assert api_as(None).get("/api/pipelines").status_code == 401
    assert api_as(personas.deactivated).get("/api/pipelines").status_code == 401


def test_pipeline_list_query_count_is_fixed(personas, api_as, django_assert_max_num_queries):
    for i in range(5):
        pipeline_create(actor=personas.admin, name=f"P{i}", stages=FULL)
    api = api_as(personas.owner)
    with django_assert_max_num_queries(6):
        r = api.get("/api/pipelines")
    assert len(r.data["items"]) == 6


def test_admin_manages_pipelines_and_stages_through_the_api(personas, api_as, pipeline):
    api = api_as(personas.admin)
    r = api.post("/api/pipelines", {"name": "Partners", "stages": FULL})
    assert r.status_code == 201, r.data
    pk = r.data["id"]
    assert r.data["is_usable"] is True
    r = api.patch(f"/api/pipelines/{pk}", {"name": "Partner deals", "is_default": True})
    assert r.status_code == 200, r.data
    assert r.data["is_default"] is True
    assert api.get(f"/api/pipelines/{pipeline.pk}").data["is_default"] is False
    r = api.post(f"/api/pipelines/{pk}/stages", {"name": "Demo", "probability": 40})
    assert r.status_code == 201, r.data
    stage_id = r.data["id"]
    r = api.patch(f"/api/pipelines/{pk}/stages/{stage_id}", {"probability": 45, "position": 2})
    assert (r.status_code, r.data["probability"], r.data["position"]) == (200, 45, 2)
    assert api.delete(f"/api/pipelines/{pk}/stages/{stage_id}").status_code == 204
    assert api.patch(f"/api/pipelines/{pipeline.pk}", {"is_default": True}).status_code == 200
    assert api.delete(f"/api/pipelines/{pk}").status_code == 204
    assert api.get(f"/api/pipelines/{pk}").status_code == 404


def test_non_admins_get_403_on_pipeline_writes(personas, api_as, pipeline, stages):
    stage = stages["Proposal"]
    for user in (personas.manager, personas.owner, personas.reader):
        api = api_as(user)
        assert api.post("/api/pipelines", {"name": "X"}).status_code == 403
        assert api.patch(f"/api/pipelines/{pipeline.pk}", {"name": "X"}).status_code == 403
        assert api.delete(f"/api/pipelines/{pipeline.pk}").status_code == 403
        assert api.post(f"/api/pipelines/{pipeline.pk}/stages", {"name": "X"}).status_code == 403
        url = f"/api/pipelines/{pipeline.pk}/stages/{stage.pk}"
        assert api.patch(url, {"probability": 1}).status_code == 403
        assert api.delete(url).status_code == 403


def test_stage_api_refuses_bad_input_and_conflicts(
    personas, api_as, pipeline, stages, make_opportunity
):
    api = api_as(personas.admin)
    r = api.post(f"/api/pipelines/{pipeline.pk}/stages", {"name": "X", "probability": 101})
    assert (r.status_code, r.data["field"]) == (422, "probability")
    r = api.post(f"/api/pipelines/{pipeline.pk}/stages", {"name": "X", "kind": "maybe"})
    assert (r.status_code, r.data["field"]) == (422, "kind")
    r = api.post(f"/api/pipelines/{pipeline.pk}/stages", {"name": "Proposal"})
    assert (r.status_code, r.data["code"], r.data["field"]) == (409, "duplicate", "name")
    make_opportunity(stage=stages["Proposal"])
    r = api.delete(f"/api/pipelines/{pipeline.pk}/stages/{stages['Proposal'].pk}")
    assert (r.status_code, r.data["code"]) == (409, "stage_in_use")
    r = api.delete(f"/api/pipelines/{pipeline.pk}/stages/{stages['Closed Won'].pk}")
    assert (r.status_code, r.data["code"]) == (409, "pipeline_needs_stage_kinds")
    other = pipeline_create(actor=personas.admin, name="Other", stages=FULL)
    # A stage of another pipeline is not found under this one.
    r = api.delete(f"/api/pipelines/{other.pk}/stages/{stages['Negotiation'].pk}")
    assert r.status_code == 404
    assert api.get(f"/api/pipelines/{2**70}").status_code == 404
