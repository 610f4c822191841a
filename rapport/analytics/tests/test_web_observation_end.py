"""The observation end on every analytics page and in the API, its setting, the warning for a
history that ends long before today, and both BG/NBD fits (calibration and full data)
labelled on the model-fit page and the overview card."""

import datetime
import re

import pytest
import time_machine

from rapport.analytics.models import AnalyticsSettings, ModelFit
from rapport.analytics.tests.integration.warehouse_fixtures import (  # noqa: F401
    known_base,
    products,
    today,
    warehouse_file,
)
from rapport.analytics.tests.test_web_analytics import PAGES, refresh_ok, table
from rapport.web.testing import text_of, ui_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def refreshed(known_base, today):  # noqa: F811
    return refresh_ok()


@pytest.mark.parametrize("path", [*PAGES, "/analytics/settings/"])
def test_every_page_states_the_observation_end_and_the_time_unit(personas, refreshed, path):
    page = text_of(ui_client(personas.manager).get(path))
    note = re.search(r'id="observation-end".*?</p>', page, re.S)
    assert note, "no observation note"
    assert 'datetime="2025-06-30"' in note.group(0)
    assert "(today)" in note.group(0)
    assert 'datetime="2025-06-20"' in note.group(0)  # the last order
    assert "model time unit: weeks" in note.group(0)
    assert 'id="observation-warning"' not in page


def test_a_history_ending_long_before_today_is_warned_about(personas, refreshed):
    with time_machine.travel(datetime.datetime(2025, 10, 1, 12, tzinfo=datetime.UTC), tick=False):
        page = text_of(ui_client(personas.owner).get("/analytics/"))
        data = ui_client(personas.owner).get("/api/analytics/segments").json()
    warning = re.search(r'id="observation-warning".*?</div>', page, re.S)
    assert warning
    assert "2025-06-20" in warning.group(0) and "103 days before today" in warning.group(0)
    assert data["days_since_last_order"] == 103 and "2025-06-20" in data["warning"]
    assert data["as_of"] == "2025-06-30" and data["observation_end"] == "today"
    assert data["time_unit"] == "weeks"


def test_the_observation_end_is_set_on_the_settings_page(personas):
    client = ui_client(personas.admin)
    page = text_of(client.get("/analytics/settings/"))
    assert 'name="observation_end"' in page and 'name="observation_end_date"' in page
    obj = AnalyticsSettings.objects.get()
    assert obj.observation_end == "auto"  # the default
    from rapport.analytics.tests.test_web_analytics import _current_settings

    missing = client.post(
        "/analytics/settings/", {**_current_settings(), "observation_end": "date"}
    )
    assert missing.status_code == 422
    assert re.search(r'id_observation_end_date.*?class="field-error"', text_of(missing), re.S)
    saved = client.post(
        "/analytics/settings/",
        {**_current_settings(), "observation_end": "date", "observation_end_date": "2024-12-31"},
    )
    assert saved.status_code == 302
    obj.refresh_from_db()
    assert (obj.observation_end, obj.observation_end_date) == ("date", datetime.date(2024, 12, 31))


def test_the_observation_end_is_set_through_the_api(personas, api_as):
    api = api_as(personas.admin)
    assert api.get("/api/analytics/settings").data["observation_end"] == "auto"
    missing = api.patch("/api/analytics/settings", {"observation_end": "date"})
    assert missing.status_code == 422 and missing.data["field"] == "observation_end_date"
    future = api.patch(
        "/api/analytics/settings", {"observation_end": "date", "observation_end_date": "2999-01-01"}
    )
    assert future.status_code == 422 and future.data["field"] == "observation_end_date"
    unknown = api.patch("/api/analytics/settings", {"observation_end": "yesterday"})
    assert unknown.status_code == 422 and unknown.data["field"] == "observation_end"
    ok = api.patch(
        "/api/analytics/settings", {"observation_end": "date", "observation_end_date": "2024-12-31"}
    )
    assert ok.status_code == 200
    assert ok.data["observation_end_date"] == "2024-12-31"
    assert api.patch("/api/analytics/settings", {"observation_end": "today"}).status_code == 200


# ----- both BG/NBD fits, labelled ----------------------------------------------------------


def _bgnbd_with_calibration(run):
    """The known base is too small for a holdout fit: give its BG/NBD report one (as a
    bigger base would have) so that the page shows both."""
    fit = ModelFit.objects.get(run=run, model="bgnbd")
    fit.report = {
        **fit.report,
        "calibration_end": "2024-12-30",
        "holdout_end": "2025-06-30",
        "holdout_weeks": 26,
        "calibration_params": {"r": 0.2426, "alpha": 4.414, "a": 0.793, "b": 2.426},
        "calibration_log_likelihood": -9582.43,
        "calibration_customers": 2357,
        "holdout_actual": 1788,
        "holdout_predicted": 1771,
    }
    fit.calibration = [{"bin": "0", "customers": 1411, "actual": 0.24, "predicted": 0.23}]
    fit.save()
    return fit


@pytest.mark.parametrize("path", ["/analytics/model-fit/", "/analytics/"])
def test_calibration_and_full_data_fits_are_both_shown_labelled(personas, refreshed, path):
    fit = _bgnbd_with_calibration(refreshed)
    page = text_of(ui_client(personas.manager).get(path))
    params = table(page, "table-bgnbd-params")
    assert "time unit: weeks" in params and "time unit: weeks (r/α" in page
    calibration = re.search(r'id="fit-calibration".*?</tr>', params, re.S).group(0)
    assert "Calibration fit" in calibration and "data up to 2024-12-30" in calibration
    assert ">0.2426<" in calibration and ">4.414<" in calibration and "2,357" in calibration
    full = re.search(r'id="fit-full".*?</tr>', params, re.S).group(0)
    assert "Full-data fit" in full and "data up to 2025-06-30" in full
    assert f">{float(fit.params['r']):.4g}<" in full
    assert "The scores use the full-data fit" in page


def test_every_model_table_states_the_time_unit_and_the_calibration_fit(personas, refreshed):
    _bgnbd_with_calibration(refreshed)
    page = text_of(ui_client(personas.manager).get("/analytics/model-fit/"))
    fits = table(page, "table-fits")
    assert "Time unit of BG/NBD and Pareto/NBD: weeks" in fits
    assert "calibration fit, data to 2024-12-30:" in fits and "r = 0.2426" in fits
