"""The test databases' template (rapport/testdb.py): when a template is used or rebuilt, what
its key covers, its name, and that this very test runs on a migrated copy."""

from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from rapport.testdb import TemplateClone, migrations_key


def _clone(**flags) -> TemplateClone:
    options = {"run_id": "run1", "key": "abc", "rebuild": False, "reuse": False, **flags}
    return TemplateClone(connection, **options)


def test_a_plain_run_uses_only_the_template_it_built():
    clone = _clone()
    assert clone.wants_template("abc run1")
    assert not clone.wants_template("abc run0")  # another run's: migrations import app code
    assert not clone.wants_template("abd run1")  # other migrations
    assert not clone.wants_template(None)  # missing, or its build was cut short


def test_reuse_db_takes_any_finished_template_of_the_same_migrations():
    clone = _clone(reuse=True)
    assert clone.wants_template("abc run0")
    assert not clone.wants_template("abd run0")
    assert not clone.wants_template(None)


def test_create_db_always_rebuilds():
    assert not _clone(rebuild=True).wants_template("abc run1")
    assert not _clone(rebuild=True, reuse=True).wants_template("abc run0")


def test_the_key_follows_the_migration_files(tmp_path):
    folder = tmp_path / "app" / "migrations"
    folder.mkdir(parents=True)
    (folder / "0001_initial.py").write_text("operations = []\n")
    config = SimpleNamespace(label="app", path=str(tmp_path / "app"))
    first = migrations_key([config])
    assert migrations_key([config]) == first
    (folder / "0001_initial.py").write_text("operations = [1]\n")
    changed = migrations_key([config])
    (folder / "0002_more.py").write_text("operations = [1]\n")
    assert len({first, changed, migrations_key([config])}) == 3
    assert len(migrations_key()) == 10


def test_the_template_name_drops_the_xdist_suffix(monkeypatch):
    clone = _clone()
    monkeypatch.setitem(connection.settings_dict, "NAME", "rapport_ci")
    monkeypatch.setitem(connection.settings_dict, "TEST", {"NAME": "test_rapport_ci_gw1"})
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert clone.template_name() == "test_rapport_ci_tplabc"
    monkeypatch.setitem(connection.settings_dict, "TEST", {"NAME": None})
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert clone.template_name() == "test_rapport_ci_tplabc"


@pytest.mark.django_db
def test_this_database_is_a_fully_migrated_copy():
    from django.db.migrations.loader import MigrationLoader

    applied = set(MigrationRecorder(connection).applied_migrations())
    assert set(MigrationLoader(connection).disk_migrations) <= applied
    # The data migrations' rows came with the copy.
    from rapport.sales.models import Pipeline

    assert Pipeline.objects.filter(name="Sales").exists()
