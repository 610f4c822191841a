"""Phones: the international prefixes people type (00, 011, +) are read, impossible
numbers (too short, a local number without its area code) are refused — in the forms and
the API (422) as in imports, where a bad phone is left out of its row with a warning unless
the import is strict."""

import csv
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from rapport.accounts.contact_methods import PhoneProblem, phone_e164, phone_normalise
from rapport.accounts.models import Contact
from rapport.imports.models import ImportJob
from rapport.imports.tests.conftest import csv_bytes


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("0049 30 000007", "US", "+4930000007"),
        ("0049 (30) 901820", "GB", "+4930901820"),
        ("00 44 20 7946 0958", "DE", "+442079460958"),
        ("+0049 30 901820", "US", "+4930901820"),
        ("011 49 30 901820", "US", "+4930901820"),
        ("+49 30 901820", "US", "+4930901820"),
        ("(415) 555-0134", "US", "+14155550134"),
        ("030 901820", "DE", "+4930901820"),
        ("0117 496 0123", "GB", "+441174960123"),  # a UK area code, not a prefix
    ],
)
def test_international_prefixes_and_national_numbers_are_read(settings, raw, region, e164):
    settings.RAPPORT_PHONE_REGION = region
    assert phone_e164(raw) == e164


@pytest.mark.parametrize("raw", ["5559932", "555 9932", "12", "+1 415 555 01", "00", "+999 1234"])
def test_impossible_numbers_are_refused(settings, raw):
    settings.RAPPORT_PHONE_REGION = "US"
    with pytest.raises(PhoneProblem):
        phone_e164(raw)


def test_a_local_number_says_to_add_the_area_code(settings):
    settings.RAPPORT_PHONE_REGION = "US"
    with pytest.raises(ValidationError) as exc:
        phone_normalise("5559932", field="phones[0].number")
    error = exc.value.error_dict["phones[0].number"][0]
    assert (error.code, "area code" in error.message) == ("invalid_phone", True)


def test_the_api_answers_422_for_an_impossible_phone_and_reads_00(personas, api_as):
    client = api_as(personas.owner)
    bad = client.post("/api/contacts", {"last_name": "Lee", "phones": [{"number": "5559932"}]})
    assert bad.status_code == 422
    assert (bad.data["field"], bad.data["code"]) == ("phones[0].number", "invalid_phone")
    assert not Contact.objects.exists()
    ok = client.post(
        "/api/contacts", {"last_name": "Lee", "phones": [{"number": "0049 30 000007"}]}
    )
    assert ok.status_code == 201
    assert Contact.objects.get().phone == "+4930000007"


HEADER = ["Last name", "Email", "Phone"]
ROWS = [
    ["Berg", "berg@x.de", "0049 30 000007"],
    ["Lee", "lee@x.org", "5559932"],
    ["Ray", "ray@x.org", "12"],
    ["Moe", "moe@x.org", "+1 415 555 0134"],
]


def test_a_bad_phone_is_left_out_of_its_row_with_a_warning(personas, upload, run):
    data = csv_bytes([HEADER, *ROWS])
    dry = run(upload(personas.owner, data, dry_run=True))
    job = run(upload(personas.owner, data))
    for j in (dry, job):
        assert (j.created, j.failed, j.extra) == (4, 0, {"rows_with_warnings": 2})
        issues = list(j.row_errors.values_list("row_number", "level", "column", "code"))
        assert issues == [
            (3, "warning", "Phone", "invalid_phone"),
            (4, "warning", "Phone", "invalid_phone"),
        ]
    phones = dict(Contact.objects.values_list("last_name", "phone"))
    assert phones == {"Berg": "+4930000007", "Lee": "", "Ray": "", "Moe": "+14155550134"}
    assert "without the phone '5559932'" in job.row_errors.get(row_number=3).message


def test_strict_mode_rejects_the_rows_with_a_bad_phone(personas, upload, run):
    job = run(upload(personas.owner, csv_bytes([HEADER, *ROWS]), strict=True))
    assert (job.created, job.failed, job.strict) == (2, 2, True)
    assert set(job.row_errors.values_list("row_number", "level")) == {(3, "error"), (4, "error")}
    assert set(Contact.objects.values_list("last_name", flat=True)) == {"Berg", "Moe"}


def test_the_api_takes_strict_and_reports_warnings_apart_from_rejected_rows(personas, api_as, run):
    client = api_as(personas.owner)
    response = client.client.post(
        "/api/imports",
        {
            "object_type": "contacts",
            "file": SimpleUploadedFile("p.csv", csv_bytes([HEADER, *ROWS])),
        },
        headers=client.headers,
    )
    assert (response.status_code, response.json()["strict"]) == (201, False)
    job = run(ImportJob.objects.get(pk=response.json()["id"]))
    errors = client.get(f"/api/imports/{job.pk}/errors").data["items"]
    assert [(e["row_number"], e["level"]) for e in errors] == [(3, "warning"), (4, "warning")]
    assert client.get(f"/api/imports/{job.pk}").data["rejected_csv"] is None
    rejected = client.client.get(f"/api/imports/{job.pk}/rejected.csv", headers=client.headers)
    lines = list(csv.reader(io.StringIO(b"".join(rejected.streaming_content).decode("utf-8-sig"))))
    assert lines == [[*HEADER, "row", "reason"]]
    # strict can be switched on before running again
    patched = client.patch(f"/api/imports/{job.pk}", {"strict": True})
    assert (patched.status_code, patched.data["strict"]) == (200, True)
    job = run(ImportJob.objects.get(pk=job.pk))
    assert job.failed == 2
