import datetime

import pytest

from rapport.calendars.services import calendar_save
from rapport.cases.models import Case

TWO_PERIODS = [(datetime.time(9), datetime.time(12)), (datetime.time(13), datetime.time(17))]
PARIS = datetime.timezone(datetime.timedelta(hours=2))  # CEST (May)
UTC = datetime.UTC


def paris(y, mo, d, h, mi=0):
    return datetime.datetime(y, mo, d, h, mi, tzinfo=PARIS)


@pytest.fixture
def office(personas):
    """Monday–Friday 09:00–12:00 + 13:00–17:00 Europe/Paris with French public holidays."""
    return calendar_save(
        actor=personas.admin,
        name="Office",
        time_zone="Europe/Paris",
        week={d: TWO_PERIODS for d in range(5)},
        holiday_country="FR",
    )


@pytest.fixture
def new_case(db):
    """Until the cases app's services merge, cases are created directly (see the report)."""
    counter = iter(range(1, 10_000))

    def make(**fields) -> Case:
        number = next(counter)
        return Case.objects.create(number=number, subject=f"Printer on fire {number}", **fields)

    return make
