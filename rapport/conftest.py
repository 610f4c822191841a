"""Shared test fixtures: named personas set up through services, an API client, and the
headless Chromium of the browser tests (one per test process, for every app's journeys).

Browser tests drive Debian's chromium (/usr/bin/chromium) through Playwright against
pytest-django's live server. Playwright's sync API runs an event loop in the test thread,
so Django's async-safety check must be told that the ORM calls there are fine."""

import contextlib
import datetime
import json
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

import pytest
from django.test import Client
from django.urls import get_resolver
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from rapport.identity.models import Role, User
from rapport.identity.services import api_token_create, team_create, user_create, user_deactivate

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def django_db_setup(
    request,
    django_test_environment,
    django_db_blocker,
    django_db_use_migrations,
    django_db_keepdb,
    django_db_createdb,
    django_db_modify_db_settings,
):
    """pytest-django's database set-up, but every worker's test database is a copy of one
    template migrated once per run (rapport/testdb.py) instead of migrating on its own.
    RAPPORT_TEST_DB_TEMPLATE=0: each worker migrates its own (pytest-django's way; the
    baseline of bench/bench_test_db_setup.py)."""
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django.fixtures import _get_databases_for_setup

    from rapport.testdb import TemplateClone, migrations_key

    keepdb = django_db_keepdb and not django_db_createdb
    workerinput = getattr(request.config, "workerinput", {})
    run_id = workerinput.get("testrunuid") or _RUN_ID
    aliases, serialized_aliases = _get_databases_for_setup(request.session.items)
    with contextlib.ExitStack() as stack, django_db_blocker.unblock():
        if not django_db_use_migrations:  # --nomigrations
            from pytest_django.fixtures import _disable_migrations

            _disable_migrations()
        elif os.environ.get("RAPPORT_TEST_DB_TEMPLATE") != "0":
            key = migrations_key()
            for alias in aliases:
                clone = TemplateClone(
                    connections[alias],
                    run_id=run_id,
                    key=key,
                    rebuild=django_db_createdb,
                    reuse=keepdb,
                )
                if clone.supported():
                    stack.enter_context(clone.active())
        db_cfg = setup_databases(
            verbosity=request.config.option.verbose,
            interactive=False,
            aliases=aliases,
            serialized_aliases=serialized_aliases,
            keepdb=keepdb,
        )
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            teardown_databases(db_cfg, verbosity=request.config.option.verbose)


_RUN_ID = uuid.uuid4().hex  # a run without xdist


@dataclass
class Personas:
    admin: User
    manager: User
    owner: User
    teammate: User
    outsider: User
    reader: User
    deactivated: User
    team_a: object
    team_b: object


@pytest.fixture
def personas(db) -> Personas:
    """Team A (managed by `manager`): owner, teammate, reader; team B: outsider."""
    admin = user_create(username="admin", role=Role.ADMIN, password="x", validate=False)
    manager = user_create(
        username="manager", role=Role.MANAGER, first_name="Mia", last_name="Manager"
    )
    team_a = team_create(name="Team A", manager=manager)
    manager.team = team_a
    manager.save(update_fields=["team"])
    team_b = team_create(name="Team B")
    owner = user_create(username="owner", team=team_a, first_name="Olga", last_name="Owner")
    teammate = user_create(username="teammate", team=team_a)
    outsider = user_create(username="outsider", team=team_b)
    reader = user_create(username="reader", role=Role.READ_ONLY, team=team_a)
    deactivated = user_create(username="deactivated", team=team_a)
    user_deactivate(user=deactivated)
    return Personas(admin, manager, owner, teammate, outsider, reader, deactivated, team_a, team_b)


class ApiClient:
    """Calls the API as a user, through a real personal token (or anonymously)."""

    def __init__(self, user: User | None = None):
        self.client = Client()
        self.headers: dict[str, str] = {}
        if user is not None:
            if user.is_active:
                _, secret = api_token_create(user=user, name="test")
            else:
                # Make the token while active, then deactivate: proves tokens die with the user.
                user.is_active = True
                _, secret = api_token_create(user=user, name="test")
                user_deactivate(user=user)
            self.headers["Authorization"] = f"Bearer {secret}"

    def _call(self, method: str, path: str, data=None, headers: dict | None = None, **params):
        kwargs = {"headers": {**self.headers, **(headers or {})}}
        fn = getattr(self.client, method)
        if method in ("get", "delete") and data is None:
            response = fn(path, params or None, **kwargs) if method == "get" else fn(path, **kwargs)
        else:
            response = fn(
                path,
                json.dumps(data) if not isinstance(data, str | bytes) else data,
                content_type="application/json",
                **kwargs,
            )
        try:
            response.data = response.json() if response.content else None
        except ValueError:
            response.data = None
        return response

    def get(self, path, headers=None, **params):
        return self._call("get", path, headers=headers, **params)

    def post(self, path, data=None, headers=None):
        return self._call("post", path, data if data is not None else {}, headers)

    def patch(self, path, data, headers=None):
        return self._call("patch", path, data, headers)

    def put(self, path, data, headers=None):
        return self._call("put", path, data, headers)

    def delete(self, path, headers=None):
        return self._call("delete", path, headers=headers)


# The SLA and case tests' business day: 09:00–12:00 and 13:00–17:00.
TWO_PERIODS = [(datetime.time(9), datetime.time(12)), (datetime.time(13), datetime.time(17))]


@pytest.fixture
def office(personas):
    """A business calendar: Monday–Friday TWO_PERIODS, Europe/Paris, with French public
    holidays (the SLA tests' and the cases' workspace tests')."""
    from rapport.calendars.services import calendar_save

    return calendar_save(
        actor=personas.admin,
        name="Office",
        time_zone="Europe/Paris",
        week={d: TWO_PERIODS for d in range(5)},
        holiday_country="FR",
    )


@pytest.fixture
def api_as(db):
    clients: dict = {}

    def make(user: User | None) -> ApiClient:
        key = user.pk if user is not None else None
        if key not in clients:
            clients[key] = ApiClient(user)
        return clients[key]

    return make


@pytest.fixture(autouse=True)
def _migration_data(request):
    """Data migrations' rows (the default "Sales" pipeline, the tracking purpose) for every
    database test.

    Transactional tests (browser journeys, search schema) flush the database when they end,
    migration data included; the tests after them on the same worker get it back here.
    """
    marker = request.node.get_closest_marker("django_db")
    uses_db = marker is not None or "db" in request.fixturenames
    transactional = (
        "transactional_db" in request.fixturenames or "live_server" in request.fixturenames
    )
    if marker is not None and (
        marker.kwargs.get("transaction") or (marker.args and marker.args[0])
    ):
        transactional = True
    if not uses_db or transactional:
        return
    request.getfixturevalue("db")
    restore_migration_data()


@pytest.fixture
def migration_data_restored(transactional_db):
    """For transactional tests that need the migrations' rows (the default pipeline …),
    which the flush ending an earlier transactional test removes:
    `pytest.mark.usefixtures("migration_data_restored")`. Rather than serialized_rollback,
    whose reload collides with the content types such a flush re-creates (PostgreSQL)."""
    restore_migration_data()


def restore_migration_data() -> None:
    """Put back the rows data migrations create (the default "Sales" pipeline, the website
    tracking consent purpose) if a transactional test's flush removed them; a transactional
    test that needs them calls this first."""
    from django.apps import apps

    from rapport.sales.models import Pipeline

    if not Pipeline.objects.filter(name="Sales").exists():
        migration = import_module("rapport.sales.migrations.0002_default_pipeline")
        migration.create_default_pipeline(apps, None)
    # get_or_create: one query when it is there.
    import_module("rapport.consent.migrations.0003_web_tracking_purpose").create_tracking_purpose(
        apps, None
    )


# ----- browser tests -----------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
# expect() retries its check (a script that runs on DOMContentLoaded may hide an input after
# the click returned); on a loaded CI machine its 5 s default is too short. Set once for the
# whole process, so every browser test has the same timeout whichever page fixture it uses.
expect.set_options(timeout=20_000)


def walk_pages(api, url: str) -> list[int]:
    """The ids of every page of a list endpoint (`url` has a query string), following
    next_cursor to the end."""
    seen, cursor = [], None
    while True:
        response = api.get(url + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.data
        seen += [row["id"] for row in response.data["items"]]
        cursor = response.data["next_cursor"]
        if not cursor:
            return seen


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session (a browser start costs ~1 s)."""
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it with apt-get")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            args=CHROMIUM_ARGS,
        )
        yield instance
        instance.close()


@pytest.fixture
def screenshot():
    """Save a screenshot of the page under screenshots/ (git-ignored) for reviewers."""
    SCREENSHOTS.mkdir(exist_ok=True)

    def take(page, name: str, full_page: bool = False):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)

    return take


@pytest.fixture
def page(browser, live_server):
    """A fresh tab (1440×900, downloads allowed) on the live server: dialogs are dismissed
    and recorded in `page.dialogs`, script errors in `page.errors`."""
    # Import every view before the first navigation: on a loaded machine the live server's
    # first request otherwise spends most of the navigation timeout importing the URLconf.
    get_resolver().reverse_dict  # noqa: B018
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, base_url=live_server.url, accept_downloads=True
    )
    context.set_default_timeout(20_000)
    tab = context.new_page()
    tab.live_server_url = live_server.url
    tab.dialogs, tab.errors = [], []
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    # Requests still in flight when the test ends (htmx panels loading lazily) would run
    # their queries while the database is flushed for the next test; on PostgreSQL the
    # flush's TRUNCATE and such a request's reads deadlock. Let them finish first.
    in_flight: set = set()
    context.on("request", lambda request: in_flight.add(request))
    context.on("requestfinished", lambda request: in_flight.discard(request))
    context.on("requestfailed", lambda request: in_flight.discard(request))
    yield tab
    deadline = time.monotonic() + 10
    while in_flight and time.monotonic() < deadline and not tab.is_closed():
        tab.wait_for_timeout(25)
    context.close()


def _width_at(page, width: int, height: int) -> int:
    """The page's scroll width once resized to `width`: scripts that follow the size (Chart.js
    redraws its canvases on a ResizeObserver, a frame later) get up to 10 s to settle under
    it; a page that stays wider is measured as it stays."""
    page.set_viewport_size({"width": width, "height": height})
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(
            "w => document.documentElement.scrollWidth <= w", arg=width, timeout=10_000
        )
    return page.evaluate("document.documentElement.scrollWidth")


PHONE_SIZE = {"width": 390, "height": 844}


def shots_at_both_sizes(page, screenshot, name: str, leave_at_phone: bool = False) -> None:
    """Full-page screenshots `<name>-desktop` (1440×900) and `<name>-phone` (390×844); the
    page scrolls sideways at neither width. Leaves the tab at 1440×900 (at 390×844 with
    `leave_at_phone`, for a journey walked on a phone)."""
    width = _width_at(page, 1440, 900)
    assert width <= 1440, f"{name}: {width}px wide on a 1440px screen"
    screenshot(page, f"{name}-desktop", full_page=True)
    width = _width_at(page, 390, 844)
    assert width <= 390, f"{name}: {width}px wide on a phone"
    screenshot(page, f"{name}-phone", full_page=True)
    size = PHONE_SIZE if leave_at_phone else {"width": 1440, "height": 900}
    if not leave_at_phone:
        page.set_viewport_size(size)
    _frames_flow(page, size)


_FRAME_OR_TIMEOUT = """ms => new Promise(done => {
    const timer = setTimeout(() => done(false), ms);
    requestAnimationFrame(() => requestAnimationFrame(() => { clearTimeout(timer); done(true); }));
})"""


def _frames_flow(page, size: dict, wait_ms: int = 3_000) -> None:
    """Wait until the tab paints again after the resizes and full-page screenshots. Once (CI of
    2026-12-06, one journey among ~60 in the run), Chromium stopped producing frames on the tab after
    them: requestAnimationFrame never fired, so the next click waited 60 s for the button
    to be "stable" and failed (a known Chromium behaviour, not the page's). A stalled tab is
    resized once more, which makes Chromium lay it out and paint it again; if it still
    paints nothing, the test fails here, saying why."""
    for _ in range(3):
        if page.evaluate(_FRAME_OR_TIMEOUT, wait_ms):
            return
        page.set_viewport_size({"width": size["width"] + 1, "height": size["height"]})
        page.set_viewport_size(size)
    raise AssertionError("the browser tab stopped painting after the screenshots (no frames)")


def sign_in(page, user, url: str | None = None) -> None:
    """Sign `user` in on a tab with a session cookie (no login form); `url`: the live
    server's, when the tab is not the `page` fixture's."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    page.context.add_cookies(
        [{"name": "sessionid", "value": cookie, "url": url or page.live_server_url}]
    )


@pytest.fixture(autouse=True)
def _no_real_dns_for_webhooks(monkeypatch):
    """No test resolves names through the outbound webhook client for real (fuzzed URLs
    would send DNS queries out): every name is unresolvable unless a test stubs the
    resolver (rapport/webhooks/tests/conftest.py `resolver`)."""
    from rapport.webhooks import http

    def unresolvable(host, port):
        raise OSError(f"{host}: names are not resolved in tests")

    monkeypatch.setattr(http, "resolve", unresolvable)


# ----- the demo company, built once per test run ----------------------------------------


@pytest.fixture
def demo_snapshot(transactional_db, settings, tmp_path, tmp_path_factory):
    """`restore(name)`: the database as a named build left it (see DEMO_SNAPSHOTS), built by
    the first test of the run that asks for it and restored for every later one, on every
    xdist worker (rapport/demo/snapshots.py). The analytics warehouse is the test's own file
    (settings.RAPPORT_WAREHOUSE_PATH under tmp_path), a copy of the build's."""
    from rapport.demo.snapshots import restore_or_build, snapshot_root

    settings.RAPPORT_WAREHOUSE_PATH = str(tmp_path / "demo.duckdb")
    root = snapshot_root(tmp_path_factory)

    def restore(name: str) -> None:
        build = DEMO_SNAPSHOTS[name]
        restore_or_build(root / name, lambda: build(restore))

    return restore


@contextmanager
def demo_restored_for_module(name: str, tmp_path_factory, django_db_blocker):
    """For a module of tests that only read a named build (DEMO_SNAPSHOTS): the build restored
    once, before the module's first test, and flushed after its last one (as a transactional
    test's teardown does). The tests take `db`, so each runs in a transaction rolled back at
    its end: every test sees the pristine copy. Use it in a module-scoped fixture."""
    from django.core.management import call_command
    from django.test import override_settings

    from rapport.demo.snapshots import restore_or_build, snapshot_root

    root = snapshot_root(tmp_path_factory)
    warehouse = tmp_path_factory.mktemp("demo-warehouse") / "demo.duckdb"

    def restore(snapshot: str) -> None:
        build = DEMO_SNAPSHOTS[snapshot]
        restore_or_build(root / snapshot, lambda: build(restore))

    with django_db_blocker.unblock(), override_settings(RAPPORT_WAREHOUSE_PATH=str(warehouse)):
        restore(name)
        try:
            yield
        finally:
            call_command("flush", interactive=False, verbosity=0)


def _demo_200(restore) -> None:
    from rapport.demo.builder import demo_build

    demo_build(accounts=200, seed=7)


def _demo_200_closed_refreshed(restore) -> None:
    from rapport.accounts.models import Account
    from rapport.analytics.models import RunStatus
    from rapport.analytics.services import analytics_refresh_now
    from rapport.demo.closed_accounts import close_demo_accounts

    restore("demo-200")
    closed = close_demo_accounts(seed=7)
    assert closed == Account.objects.filter(closed_at__isnull=False).count() >= 30
    run = analytics_refresh_now(full=True)
    assert run.status == RunStatus.SUCCEEDED, run.error


def _demo_users(restore) -> None:
    from rapport.demo.builder import demo_build

    # What the bulk generator makes first on an empty database (rapport/demo/bulk/build.py,
    # seed 42): the users and teams, the pipeline, the catalogue and the service desk's set-up
    # (no cases: their number follows the accounts, rapport/demo/cases.py).
    demo_build(accounts=0, seed=42)


def _generated_150(restore) -> None:
    from django.core.management import call_command

    restore("demo-users")
    call_command("demo_data", "--contacts", "150", "--activities", "900", "--orders", "40")


DEMO_SNAPSHOTS = {
    # demo_build(accounts=200, seed=7): the demo company (users admin, maria, sam, …)
    "demo-200": _demo_200,
    # … then close_demo_accounts(seed=7) and a full analytics refresh (scores, model fits)
    "demo-200-closed-refreshed": _demo_200_closed_refreshed,
    # demo_build(accounts=0, seed=42): what the bulk generator builds on an empty database
    "demo-users": _demo_users,
    # the bulk generator: demo_data --contacts 150 --activities 900 --orders 40
    "generated-150": _generated_150,
}
