import pytest

from rapport.portal.tests.factories import make_customers


@pytest.fixture
def customers(personas):
    return make_customers(personas)
