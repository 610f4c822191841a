import datetime

import pytest

from rapport.cases.models import Case

PARIS = datetime.timezone(datetime.timedelta(hours=2))  # CEST (May)
UTC = datetime.UTC


def paris(y, mo, d, h, mi=0):
    return datetime.datetime(y, mo, d, h, mi, tzinfo=PARIS)


@pytest.fixture
def new_case(db):
    """Until the cases app's services merge, cases are created directly (see the report)."""
    counter = iter(range(1, 10_000))

    def make(**fields) -> Case:
        number = next(counter)
        return Case.objects.create(number=number, subject=f"Printer on fire {number}", **fields)

    return make
