"""The screenshot helper waits for the tab to paint again after its resizes, and says so
when it never does (a stalled tab made the next click wait 60 s for a "stable" button)."""

import pytest

from rapport.conftest import _frames_flow, shots_at_both_sizes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_painting_tab_passes_and_a_tab_without_frames_fails_clearly(page, screenshot):
    page.goto("/login/")
    shots_at_both_sizes(page, screenshot, "frames-login")  # frames flow: no error
    page.evaluate("window.requestAnimationFrame = () => 0")  # a tab that paints nothing
    with pytest.raises(AssertionError, match="stopped painting"):
        _frames_flow(page, {"width": 1440, "height": 900}, wait_ms=200)
