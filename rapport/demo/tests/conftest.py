import pytest


@pytest.fixture(autouse=True)
def _warehouse_in_tmp(settings, tmp_path):
    """Loading the demo refreshes the analytics: its warehouse file goes to the test's tmp."""
    settings.RAPPORT_WAREHOUSE_PATH = str(tmp_path / "demo.duckdb")
