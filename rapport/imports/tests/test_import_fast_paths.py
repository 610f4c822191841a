"""The import's fast paths read and write exactly what the plain ones did: each distinct
phone is parsed once per run (the row's country still decides a national number), country
names are looked up once, and lifecycle stages are stored by one prepared upsert."""

import datetime

import pytest
from django.utils import timezone

from rapport.accounts.contact_methods import PhoneProblem, phone_e164
from rapport.accounts.models import Contact
from rapport.imports.services.cleaning import RowReader
from rapport.imports.services.mapping import targets_for
from rapport.segments.lifecycle import _stages_upsert
from rapport.segments.models import ContactLifecycle, LifecycleStage

pytestmark = pytest.mark.django_db

MAPPING = {"Last": "last_name", "Phone": "phone", "Country": "country"}

# A messy file: the same numbers again and again, the same national number in different
# countries, the same bad number with and without a country, blanks and junk.
MESSY = [
    ["Lee", "030 901820", "DE"],
    ["Kim", "030 901820", "Germany"],
    ["Roe", "030 901820", "GB"],
    ["Fox", "030 901820", ""],
    ["Lee", "(415) 555-0134", "US"],
    ["Kim", "(415) 555-0134", "united states"],
    ["Ada", "5559932", "US"],
    ["Bea", "5559932", "US"],
    ["Cid", "5559932", "DE"],
    ["Dan", "0049 30 901820", "FR"],
    ["Eve", "+49 30 901820", "FR"],
    ["Fay", "not a phone", "DE"],
    ["Gus", "not a phone", "DE"],
    ["Hal", "+999 1234", ""],
    ["Ivy", "", "DE"],
    ["Jon", "0117 496 0123", "GB"],
    ["Kay", "0117 496 0123", "GB"],
    ["Lou", "030 901820", "DE"],
]


def _reader(**kw) -> RowReader:
    return RowReader(headers=list(MAPPING), mapping=MAPPING, targets=targets_for("contacts"), **kw)


def _outcome(row):
    return (
        row.values,
        row.outcome,
        [(i.column, i.field, i.code, i.message) for i in row.issues],
        [(i.column, i.field, i.code, i.message) for i in row.warnings],
    )


@pytest.mark.parametrize("strict", [False, True])
def test_a_run_reading_a_messy_file_gives_each_row_what_a_fresh_reader_gives(settings, strict):
    settings.RAPPORT_PHONE_REGION = "US"
    shared = _reader(strict=strict)
    for number, cells in enumerate(MESSY, start=2):
        # A reader per row shares nothing with the rows before it: the uncached path.
        assert _outcome(shared.read(number, list(cells))) == _outcome(
            _reader(strict=strict).read(number, list(cells))
        ), cells


def test_the_rows_country_decides_a_repeated_national_number(settings):
    settings.RAPPORT_PHONE_REGION = "US"
    reader = _reader()
    phones = [reader.read(n, list(cells)).values.get("phone") for n, cells in enumerate(MESSY)]
    expected = []
    for _last, raw, _country in MESSY:
        country = reader.read(1, ["X", "", _country]).values.get("country") or None
        try:
            expected.append(phone_e164(raw, country) if raw else None)
        except PhoneProblem:
            expected.append(None)
    assert phones == expected
    assert phones[0] == "+4930901820"
    assert len({phones[0], phones[2], phones[3]}) == 3  # DE, GB and the default region


def test_a_new_default_region_is_seen_by_the_next_run(settings):
    settings.RAPPORT_PHONE_REGION = "US"
    assert _reader().read(2, ["Lee", "(415) 555-0134", ""]).values["phone"] == "+14155550134"
    settings.RAPPORT_PHONE_REGION = "DE"
    assert _reader().read(2, ["Lee", "030 901820", ""]).values["phone"] == "+4930901820"


def test_a_repeated_bad_phone_warns_on_every_row():
    reader = _reader()
    rows = [reader.read(n, ["Fay", "not a phone", "DE"]) for n in (2, 3, 4)]
    assert [len(r.warnings) for r in rows] == [1, 1, 1]
    assert all("phone" not in r.values for r in rows)
    assert len({r.warnings[0].message for r in rows}) == 1


def test_lifecycle_stages_upsert_inserts_and_replaces_like_bulk_create(personas):
    owner = personas.owner
    a, b = (Contact.objects.create(last_name=name, owner=owner, team=owner.team) for name in "AB")
    earlier = timezone.now() - datetime.timedelta(days=3)
    ContactLifecycle.objects.update_or_create(
        contact=a, defaults={"stage": LifecycleStage.PROSPECT, "since": earlier}
    )
    now = timezone.now()
    _stages_upsert([(a.pk, LifecycleStage.LOYAL), (b.pk, LifecycleStage.PROSPECT)], now)
    rows = dict(
        ContactLifecycle.objects.filter(contact__in=[a, b]).values_list("contact_id", "stage")
    )
    assert rows == {a.pk: LifecycleStage.LOYAL, b.pk: LifecycleStage.PROSPECT}
    for row in ContactLifecycle.objects.filter(contact__in=[a, b]):
        assert row.since == now


# Columns read once per distinct cell (names, countries, owners …): repeated good and bad
# cells, padding around the same text, a too-long name, a full name.
CELLS_MAPPING = {"Name": "full_name", "Last": "last_name", "Country": "country", "Owner": "owner"}
CELLS = [
    ["Ann Lee", "Lee", "Germany", "maria"],
    ["Ann Lee", "Lee", "Germany", "maria"],
    [" Ann Lee ", " Lee", "germany", "MARIA"],
    ["Bo", "x" * 101, "Atlantis", "maria"],
    ["Bo", "x" * 101, "Atlantis", ""],
    ["Cy Day", "'=Day", "DEU", "sam"],
    ["Cy Day", "'=Day", "DEU", "sam"],
]


def test_cells_read_once_per_distinct_text_give_each_row_what_a_fresh_reader_gives():
    def reader():
        return RowReader(
            headers=list(CELLS_MAPPING), mapping=CELLS_MAPPING, targets=targets_for("contacts")
        )

    shared = reader()
    outcomes = []
    for number, cells in enumerate(CELLS, start=2):
        row = shared.read(number, list(cells))
        assert _outcome(row) == _outcome(reader().read(number, list(cells))), cells
        outcomes.append(row)
    # The repeated refusals fail every row that has them, each with its own issue.
    assert [i.code for i in outcomes[3].issues] == [i.code for i in outcomes[4].issues]
    assert {i.code for i in outcomes[3].issues} == {"too_long", "invalid_country"}
    assert outcomes[3].issues[0] is not outcomes[4].issues[0]
    assert outcomes[0].values == {
        "first_name": "Ann",
        "last_name": "Lee",
        "country": "DE",
        "owner": "maria",
    }


def test_the_reading_thread_can_hold_the_whole_next_batch():
    """While the database writes one batch, the reading thread prepares the next one: its
    queue holds a whole batch (a shallower one stopped it short, and the database then
    waited for the rest of the batch to be read)."""
    from types import SimpleNamespace

    from rapport.imports.services.runner import BATCH_SIZE, _RowProducer

    producer = _RowProducer(SimpleNamespace(pk=1), _reader())
    assert producer.queue.maxsize * producer.chunk >= BATCH_SIZE + producer.chunk
    small = _RowProducer(SimpleNamespace(pk=1), _reader(), chunk=64)
    assert small.queue.maxsize * small.chunk >= BATCH_SIZE + small.chunk
