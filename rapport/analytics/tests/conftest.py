"""Shared fixtures for the numeric analytics tests: the CDNOW sample, loaded once."""

from pathlib import Path

import pandas as pd
import pytest

from rapport.analytics.numeric.summary import customer_summary

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def cdnow_transactions() -> pd.DataFrame:
    frame = pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "amount"],
        dtype={"date": str},
    )
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame


@pytest.fixture(scope="session")
def cdnow_published_summary() -> pd.DataFrame:
    return pd.read_csv(DATA / "cdnow_customers_summary.csv", index_col="ID")


@pytest.fixture(scope="session")
def cdnow_summary(cdnow_transactions: pd.DataFrame) -> pd.DataFrame:
    """39-week calibration (to 1997-09-30) and 39-week holdout (to 1998-06-30), in weeks."""
    return customer_summary(
        cdnow_transactions, calibration_end="1997-09-30", observation_end="1998-06-30"
    )
