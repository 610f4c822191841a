"""Browser journey: a technician on a 390×844 phone opens their day, starts the work order,
ticks the checklist, signs with the customer's finger (drawn on the canvas with touch-like
pointer strokes) and completes it; the signature is stored as a PNG through rapport/files."""

import datetime
import io
from pathlib import Path

import pytest
from django.urls import get_resolver
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from rapport.accounts.services import account_create
from rapport.conftest import shots_at_both_sizes, sign_in
from rapport.fieldservice.models import WorkOrder
from rapport.fieldservice.services import work_order_create
from rapport.identity.models import Role
from rapport.identity.services import user_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path("/tmp/shots/field")


@pytest.fixture
def setup(transactional_db):
    get_resolver().reverse_dict  # noqa: B018 - import every view before the first page
    manager = user_create(username="mona", role=Role.MANAGER, validate=False)
    tech = user_create(username="tom", first_name="Tom", last_name="Tech", validate=False)
    account = account_create(
        actor=manager, fields={"name": "Bakery Roux", "street": "3 Rue Neuve", "city": "Lyon"}
    )
    start = timezone.localtime().replace(hour=8, minute=30, second=0, microsecond=0)
    wo = work_order_create(
        actor=manager,
        title="Oven maintenance",
        account=account,
        scheduled_start=start,
        scheduled_end=start + datetime.timedelta(hours=2),
        technician=tech,
        tasks=["Clean burners"],
    )
    return tech, wo


def _no_overflow(page, name):
    """At the phone width only: mid-signature, a resize would redraw the pad empty."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 1, f"{name} is wider than the screen by {overflow}px"


def test_technician_completes_a_work_order_with_a_signature(page, setup, screenshot):
    tech, wo = setup
    sign_in(page, tech)
    page.goto("/field/today")
    card = page.locator(f"#wo-{wo.pk}")
    expect(card).to_contain_text("Oven maintenance")
    expect(card).to_contain_text("3 Rue Neuve")
    # Both sizes checked; the rest of the journey on the technician's phone.
    shots_at_both_sizes(page, screenshot, "field-day", leave_at_phone=True)

    start = card.get_by_role("button", name="Start")
    assert start.bounding_box()["height"] >= 44  # a thumb-sized target
    start.click()
    card = page.locator(f"#wo-{wo.pk}")
    expect(card.locator("[data-status]")).to_have_text("In progress")

    card.get_by_role("button", name="Clean burners").click()
    card = page.locator(f"#wo-{wo.pk}")
    expect(card.get_by_role("button", name="Clean burners")).to_have_attribute(
        "aria-pressed", "true"
    )

    card.locator("summary", has_text="Sign").click()
    card.get_by_label("Customer's name").fill("Marie Roux")
    # Saving an empty pad is stopped in the browser.
    card.get_by_role("button", name="Save signature").click()
    expect(card.locator("[data-signature-error]")).to_be_visible()
    pad = card.locator("[data-signature-pad]")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    x, y = box["x"], box["y"]
    page.mouse.move(x + 20, y + box["height"] * 0.7)
    page.mouse.down()
    for i in range(1, 25):
        page.mouse.move(
            x + 20 + i * (box["width"] - 40) / 24,
            y + box["height"] * (0.7 - 0.4 * ((i % 6) / 6)),
            steps=2,
        )
    page.mouse.up()
    _no_overflow(page, "signing-phone")
    card.get_by_role("button", name="Save signature").click()
    card = page.locator(f"#wo-{wo.pk}")
    expect(card).to_contain_text("Signed by Marie Roux")

    card.get_by_role("button", name="Complete").click()
    card = page.locator(f"#wo-{wo.pk}")
    expect(card.locator("[data-status]")).to_have_text("Completed")
    shots_at_both_sizes(page, screenshot, "field-day-completed")
    assert page.errors == []

    wo = WorkOrder.objects.select_related("signature").get(pk=wo.pk)
    assert wo.status == "completed" and wo.signed_by == "Marie Roux"
    content = wo.signature.file.open("rb").read()
    assert content.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(content)).convert("L")
    dark = sum(image.histogram()[:128])  # pixels darker than mid-grey
    assert dark > 200, "the stored signature has no strokes"
    assert wo.signature.content_type == "image/png"
    assert wo.tasks.get().done
