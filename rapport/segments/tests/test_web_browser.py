"""Browser journey: build a segment with two groups, watch the live count change, save it,
filter the contact list by it; screenshots at desktop and phone widths."""

import pytest

from rapport.conftest import shots_at_both_sizes, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _count(page) -> str:
    return page.locator("[data-live-count]").inner_text()


def _wait_count(page, value: str) -> None:
    page.wait_for_function(
        "v => (document.querySelector('[data-live-count]') || {}).textContent === v", arg=value
    )


def _rerender(page, action) -> None:
    """Do `action` and wait until the builder's re-render has replaced the old one and htmx
    has bound the new fields (`htmx-added` is removed once they are processed); a change made
    before that sends nothing."""
    page.evaluate("document.getElementById('builder').dataset.stale = '1'")
    with page.expect_response(lambda r: "/segments/builder" in r.url):
        action()
    page.locator("#builder:not([data-stale]):not(.htmx-added)").wait_for()


def test_build_a_two_group_segment_and_filter_the_contact_list(page, world, screenshot):
    page.set_default_timeout(60_000)  # a loaded shared machine
    sign_in(page, world.actor)
    page.goto("/segments/")
    page.get_by_role("link", name="New segment").click()
    # htmx binds the builder's fields once the page has loaded: a change before sends nothing
    page.wait_for_url("**/segments/new")
    page.wait_for_load_state("load")
    page.get_by_label("Name").fill("Paris or Lyon")
    _rerender(page, lambda: page.locator('[name="n-0.0-field"]').select_option("city"))
    page.locator('[name="n-0.0-value"]').fill("Paris")
    _wait_count(page, "1")

    # a second group: (city is Lyon); with the root on "all of" nobody matches both
    _rerender(page, lambda: page.get_by_role("button", name="+ Group").first.click())
    _rerender(page, lambda: page.locator('[name="n-0.1.0-field"]').select_option("city"))
    page.locator('[name="n-0.1.0-value"]').fill("Lyon")
    _wait_count(page, "0")
    page.locator('[name="n-0-op"]').select_option("or")
    _wait_count(page, "2")
    shots_at_both_sizes(page, screenshot, "segments-builder")

    page.get_by_role("button", name="Create segment").click()
    page.wait_for_url("**/segments/*/")
    assert "Paris or Lyon" in page.locator("h1").inner_text()
    screenshot(page, "segments-detail-desktop", full_page=True)
    page.get_by_role("link", name="Open in the contact list").click()
    page.wait_for_url("**/contacts/?segment_id=*")
    rows = page.locator("table.data-table tbody tr")
    texts = rows.all_inner_texts()
    assert len(texts) == 2
    assert any("Ann Archer" in t for t in texts) and any("Bob Baker" in t for t in texts)
    shots_at_both_sizes(page, screenshot, "segments-contacts-filtered")
    assert page.errors == []
