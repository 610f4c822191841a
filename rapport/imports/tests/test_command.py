"""manage.py import_file: the command line runs the same import in the foreground."""

import json

import pytest
from django.core.management import CommandError, call_command

from rapport.accounts.models import Contact
from rapport.imports.models import ImportJob, SavedMapping
from rapport.imports.tests.conftest import csv_bytes

DATA = csv_bytes(
    [["Nom", "Courriel", "Ville"], ["Lee", "ann@example.org", "Lyon"], ["Ray", "x", ""]]
)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes(DATA)
    return path


def test_import_file_runs_in_the_foreground_and_reports(personas, source, capsys):
    call_command("import_file", str(source), "--object", "contacts", "--user", "owner")
    out = capsys.readouterr()
    assert "'Courriel'" in out.out and "→ email" in out.out
    assert "done: 2 rows; created 1" in out.out and "rejected 1" in out.out
    assert "row 3 [Courriel]" in out.out
    assert "100%" in out.err
    assert Contact.objects.get().owner == personas.owner
    job = ImportJob.objects.get()
    assert job.file_path == str(source.resolve())  # read in place, not copied


def test_dry_run_with_a_mapping_file_and_a_saved_mapping(personas, source, tmp_path, capsys):
    mapping = tmp_path / "m.json"
    mapping.write_text(json.dumps({"Nom": "last_name", "Ville": "city"}))
    call_command(
        "import_file",
        str(source),
        "--object",
        "contacts",
        "--user",
        "owner",
        "--mapping",
        str(mapping),
        "--dry-run",
        "--save-mapping",
        "fr",
    )
    assert "would be created 2" in capsys.readouterr().out
    assert not Contact.objects.exists()
    assert SavedMapping.objects.get(name="fr").mapping["Courriel"] is None


def test_a_read_only_user_or_a_bad_file_is_a_command_error(personas, tmp_path, source):
    with pytest.raises(CommandError, match="Read-only"):
        call_command("import_file", str(source), "--object", "contacts", "--user", "reader")
    bad = tmp_path / "x.csv"
    bad.write_bytes(b"%PDF-1.7")
    with pytest.raises(CommandError, match="PDF"):
        call_command("import_file", str(bad), "--object", "contacts", "--user", "owner")
    with pytest.raises(CommandError, match="No active user"):
        call_command("import_file", str(source), "--object", "contacts", "--user", "deactivated")


def test_a_failed_import_exits_with_an_error(personas, tmp_path):
    path = tmp_path / "late.csv"
    path.write_bytes(csv_bytes([["Last name"]] + [["x"]] * 50000) + b"\xe9\n")
    with pytest.raises(CommandError, match="failed: The file is not valid UTF-8"):
        call_command("import_file", str(path), "--object", "contacts", "--user", "owner")
    assert not Contact.objects.exists()


def test_background_queues_a_copy_for_the_worker(
    personas, source, import_dir, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        call_command(
            "import_file", str(source), "--object", "contacts", "--user", "owner", "--background"
        )
    job = ImportJob.objects.get()
    assert job.queued_at is not None and len(callbacks) == 1
    assert job.file_path.startswith(str(import_dir))
