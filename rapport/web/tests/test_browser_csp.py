"""The Content-Security-Policy holds on every main page: Chromium reports no violation (no
inline script or style, no eval) on the app's pages, the API docs and the Django admin."""

from decimal import Decimal

import pytest

from rapport.accounts.services import account_create, contact_create
from rapport.conftest import restore_migration_data, sign_in
from rapport.identity.models import Role
from rapport.identity.services import user_create
from rapport.leads.services import lead_create
from rapport.sales.services.opportunities import opportunity_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Reported by the page itself, before any of its scripts run.
VIOLATION_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => console.error(
  'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber));
"""


def _visit(page, path: str, problems: list[str]) -> None:
    response = page.goto(path)
    # The directives' order in the header is django-csp's business (it differs between runs).
    directives = dict(
        part.strip().split(" ", 1)
        for part in response.headers["content-security-policy"].split(";")
        if part.strip()
    )
    assert directives["script-src"] == "'self'", path
    page.wait_for_load_state("networkidle")
    assert not problems, (path, problems)


def test_main_pages_pass_the_content_security_policy(page):
    restore_migration_data()
    admin = user_create(username="csp-admin", role=Role.ADMIN, password="x", validate=False)
    account = account_create(actor=admin, fields={"name": "Northwind Traders"})
    contact = contact_create(
        actor=admin, fields={"first_name": "Nora", "last_name": "Lind", "account": account}
    )
    lead = lead_create(actor=admin, fields={"last_name": "Lopez", "company": "Maple"})
    opportunity = opportunity_create(
        actor=admin,
        fields={"name": "Fleet renewal", "account": account, "amount": Decimal("1200")},
    )
    problems: list[str] = []
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text)
            if msg.type == "error" and ("Content Security Policy" in msg.text or "CSP" in msg.text)
            else None
        ),
    )
    page.context.add_init_script(VIOLATION_LISTENER)
    sign_in(page, admin)
    paths = [
        "/",
        "/accounts/",
        f"/accounts/{account.pk}/",
        "/contacts/",
        f"/contacts/{contact.pk}/",
        "/leads/",
        f"/leads/{lead.pk}/",
        "/opportunities/",
        f"/opportunities/{opportunity.pk}/",
        "/opportunities/board",
        "/activities/",
        "/activities/calendar/",
        "/products/",
        "/orders/",
        "/duplicates/",
        "/analytics/",
        "/analytics/segments/",
        "/analytics/cohorts/",
        "/analytics/model-fit/",
        "/imports/",
        "/imports/new",
        "/settings/",
        "/settings/users/",
        "/me/tokens/",
        "/search?q=north",
        "/api/docs",
        "/admin/",
        "/admin/identity/user/",
        f"/admin/identity/user/{admin.pk}/change/",
        "/no-such-page/",
    ]
    for path in paths:
        _visit(page, path, problems)

    # Every page the sidebar, the settings index and the analytics tabs link to (fixed link
    # sets, whatever the data), so a new module's pages are held to the policy without anyone
    # adding them here.
    seen = set(paths)
    for source, selector in (
        ("/", "#sidebar a"),
        ("/settings/", "main a"),
        ("/analytics/", "a.tab"),
    ):
        page.goto(source)
        links = page.eval_on_selector_all(
            f"{selector}[href^='/']", "els => els.map(e => e.getAttribute('href'))"
        )
        for path in links:
            path = path.split("#")[0]
            if path and path not in seen and not path.startswith(("/logout", "/admin/")):
                seen.add(path)
                _visit(page, path, problems)
    assert len(seen) >= len(paths) + 20, sorted(seen - set(paths))  # the crawl found them

    # htmx at work (suggestions swapped into the top bar) stays within the policy too.
    page.goto("/")
    page.locator("#global-search").press_sequentially("north")
    page.wait_for_selector("#search-suggestions:not([hidden]) .suggest-option")
    assert not problems, problems
    assert not page.errors, page.errors
