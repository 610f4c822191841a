"""Browser journey of an import in Chromium: upload a CSV with one bad row, fix one column's
mapping, dry run, run, follow the progress (htmx polling) to the end and download the
rejected rows (screenshots under screenshots/)."""

import pytest

from rapport.accounts.models import Contact
from rapport.conftest import shots_at_both_sizes, sign_in
from rapport.identity.services import user_create
from rapport.imports.models import ImportJob
from rapport.imports.services import import_job_read, import_run
from rapport.imports.tests.conftest import csv_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FILE = csv_bytes(
    [
        ["First name", "Surname", "E-mail", "Job", "Comments"],
        ["Ann", "Lee", "ann@example.org", "Buyer", "met at the fair"],
        ["Bob", "Stone", "bob@", "CTO", "bad email"],
        ["Cy", "Park", "cy@example.org", "Founder", ""],
    ]
)


@pytest.fixture
def rep(transactional_db):
    return user_create(username="rita", first_name="Rita", last_name="Rep", validate=False)


@pytest.fixture(autouse=True)
def _jobs_wait_in_the_queue(settings):
    # Started jobs wait in the queue: the test plays the worker, so that the page has
    # something to poll.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


def _work(job_id: int) -> ImportJob:
    """What the worker does with the queued task."""
    return import_run(job=ImportJob.objects.get(pk=job_id))


def _read(job: ImportJob) -> ImportJob:
    """What the worker does with an upload: read its header and first rows."""
    return import_job_read(job=ImportJob.objects.get(pk=job.pk))


def test_import_a_csv_with_a_bad_row_from_upload_to_rejected_rows(
    page,
    rep,
    live_server,
    screenshot,
    tmp_path,  # noqa: F811
):
    sign_in(page, rep)
    page.goto("/contacts/")
    page.click(".page-actions a:has-text('Import')")
    page.wait_for_url("**/imports/new?object_type=contact")
    assert page.input_value("#id_object_type") == "contacts"
    # Not a table: the upload answers at once, the page waits for the worker to read it,
    # then says why it cannot be imported.
    page.set_input_files(
        "#id_file", files=[{"name": "fair.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1"}]
    )
    page.click("button:has-text('Upload and map columns')")
    page.wait_for_selector("#import-reading:has-text('Reading the file')")
    screenshot(page, "import-0a-reading")
    _read(ImportJob.objects.get())
    page.wait_for_selector("#import-reading .alert-error:has-text('not a CSV or XLSX table')")
    screenshot(page, "import-0-upload-error")
    page.click("a:has-text('Upload another file')")
    page.wait_for_url("**/imports/new?object_type=contacts")
    page.set_input_files(
        "#id_file", files=[{"name": "fair.csv", "mimeType": "text/csv", "buffer": FILE}]
    )
    screenshot(page, "import-1-upload")
    page.click("button:has-text('Upload and map columns')")
    page.wait_for_selector("#import-reading:has-text('Reading the file')")
    job = ImportJob.objects.get(original_name="fair.csv")
    _read(job)
    page.wait_for_selector("#id_col_1")  # the poll moved on to the mapping by itself

    # The guess: Job is not recognised; map it to the title by hand.
    assert page.input_value("#id_col_1") == "last_name"
    assert page.input_value("#id_col_3") == ""
    page.select_option("#id_col_3", "title")
    screenshot(page, "import-2-mapping", full_page=True)
    page.click("button:has-text('Dry run')")
    page.wait_for_selector("#import-status")
    assert "Waiting for a worker" in page.inner_text("#import-status")
    screenshot(page, "import-3a-waiting")
    _work(job.pk)
    # The page polls: no reload, the results appear in place.
    page.wait_for_selector("#import-status .status-success:has-text('Done')")
    assert Contact.objects.count() == 0
    assert "nothing was written" in page.inner_text("#import-status")
    assert page.locator("#import-status .import-errors tbody tr").count() == 1
    screenshot(page, "import-3-dry-run", full_page=True)

    page.click("button:has-text('Run the import')")
    page.wait_for_selector("#import-status progress")
    page.evaluate("window.__stillHere = true")
    _work(job.pk)
    page.wait_for_selector("#import-status .status-success:has-text('Done')")
    assert page.evaluate("window.__stillHere") is True
    assert page.get_attribute("#import-progress-bar", "value") == "100"
    stats = page.inner_text(".import-counts").lower()
    assert "created\n2" in stats and "failed\n1" in stats
    assert sorted(Contact.objects.values_list("title", flat=True)) == ["Buyer", "Founder"]
    screenshot(page, "import-4-done", full_page=True)

    with page.expect_download() as info:
        page.click("a:has-text('Download rejected rows')")
    path = tmp_path / "rejected.csv"
    info.value.save_as(path)
    rejected = path.read_text(encoding="utf-8-sig")
    assert rejected.splitlines()[0] == "First name,Surname,E-mail,Job,Comments,row,reason"
    assert "Bob,Stone,bob@,CTO,bad email,3,E-mail:" in rejected

    page.click("a:has-text('My imports')")
    page.wait_for_selector("h1:has-text('Imports')")
    assert "fair.csv" in page.inner_text("table")
    screenshot(page, "import-5-list")

    page.goto(f"/imports/{job.pk}/errors")
    page.wait_for_selector(".import-errors")
    screenshot(page, "import-5b-errors")

    # The contacts list: Import next to the Export menu (CSV or Excel of the filter).
    page.goto("/contacts/?q=Lee")
    page.click("summary:has-text('Export')")
    page.wait_for_selector("a:has-text('Excel .xlsx')")
    assert "q=Lee&format=xlsx" in page.get_attribute("a:has-text('Excel .xlsx')", "href")
    screenshot(page, "import-7-list-actions")

    page.goto(f"/imports/{job.pk}/mapping")
    shots_at_both_sizes(page, screenshot, "import-6-mapping")
    failed = ImportJob.objects.get(original_name="fair.pdf")
    page.goto(f"/imports/{failed.pk}/mapping")
    shots_at_both_sizes(page, screenshot, "import-6b-reading-error")
    assert page.errors == []


MESSY = csv_bytes(
    [
        ["First name", "Last name", "Email", "Phone"],
        ["Ida", "Kant", "ida@kantwerk.de", "0049 30 901820"],
        ["Max", "Roth", "max@kantwerk.de", "+49 30 901820"],
        ["", "", "", "+49 30 901820"],
        ["Lea", "Vogt", "lea@vogt.org", "5559932"],
    ]
)


def test_a_dry_run_reports_ambiguous_rows_and_phone_warnings_then_strict_rejects(
    page, rep, live_server, screenshot
):
    sign_in(page, rep)
    page.goto("/imports/new?object_type=contact")
    page.set_input_files(
        "#id_file", files=[{"name": "messy.csv", "mimeType": "text/csv", "buffer": MESSY}]
    )
    page.click("button:has-text('Upload and map columns')")
    page.wait_for_selector("#import-reading")
    job = _read(ImportJob.objects.get())
    page.wait_for_selector("#id_strict")
    assert not page.is_checked("#id_strict")
    page.click("button:has-text('Dry run')")
    page.wait_for_selector("#import-status")
    _work(job.pk)
    page.wait_for_selector("#import-status :text('Row errors and warnings')")
    status = page.inner_text("#import-status")
    assert "Ambiguous: 2 contacts have the phone +4930901820" in status
    assert "imported without the phone '5559932'" in status
    screenshot(page, "import-messy-dry-run", full_page=True)
    assert not Contact.objects.exists()
    page.click("a:has-text('Edit the mapping')")
    page.check("#id_strict")
    page.click("button:has-text('Import now')")
    page.wait_for_selector("#import-status")
    _work(job.pk)
    page.wait_for_selector("#import-status :text('2 rows rejected')")
    assert sorted(Contact.objects.values_list("last_name", flat=True)) == ["Kant", "Roth"]
