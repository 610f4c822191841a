from rapport.sales.tests.conftest import make_opportunity, pipeline, stages  # noqa: F401
