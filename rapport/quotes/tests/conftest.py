from rapport.sales.tests.conftest import (  # noqa: F401 - fixtures shared with sales
    account,
    contact,
    make_opportunity,
    make_product,
    pipeline,
    stages,
)
