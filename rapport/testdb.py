"""Test databases cloned from one migrated template (test infrastructure; rapport/conftest.py).

Running the migrations costs ~47 s of CPU (Django renders the migration state over and over),
and before this every pytest-xdist worker ran all of them on its own test database. Now the
first worker that needs a database migrates a *template* under a lock and every worker's
database is a copy of it:

- PostgreSQL: the template is the database `<test name>_tpl<key>`, copied with
  `CREATE DATABASE … TEMPLATE …`; the lock is a session advisory lock (freed if the holder dies).
- SQLite (the tests' database is in memory): the template is a file in the temp folder
  (written with SQLite's backup API after migrating in memory as before), read back into each
  worker's in-memory database with the backup API; the lock is `fcntl.flock` on a file beside it.

`<key>` hashes Django's version and every migration file, so a template of other migrations is
never used. A template records the run that built it (xdist's `testrunuid`, or a fresh id for
`-n 0`): a plain run rebuilds a template another run left (migrations import application code
that may have changed), `--reuse-db` uses any complete template of the same key, `--create-db`
always rebuilds. A template whose build was cut short has no record and is rebuilt. Each
worker's database is copied afresh at every start (it is cheap), kept at the end with
`--reuse-db`, dropped otherwise; the template stays for the next run (one empty schema).

Only what `create_test_db` does is replaced: Django's `setup_databases` still configures
mirrors, serializes the databases that `serialized_rollback` tests need, and tears down.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sqlite3
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path


def migrations_key(configs=None) -> str:
    """A hash of Django's version and the content of every installed app's (or `configs`')
    migration files."""
    import django
    from django.apps import apps

    digest = hashlib.sha256(django.get_version().encode())
    for config in sorted(configs or apps.get_app_configs(), key=lambda c: c.label):
        folder = Path(config.path) / "migrations"
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.py")):
            digest.update(f"{config.label}/{path.name}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


class TemplateClone:
    """Replaces `connection.creation.create_test_db` for one connection while active."""

    def __init__(self, connection, *, run_id: str, key: str, rebuild: bool, reuse: bool):
        self.connection = connection
        self.creation = connection.creation
        self.run_id = run_id
        self.key = key
        self.rebuild = rebuild  # --create-db
        self.reuse = reuse  # --reuse-db: a complete template of another run will do
        self.built = False  # this process built the template (for tests and messages)

    @property
    def is_postgresql(self) -> bool:
        return self.connection.vendor == "postgresql"

    def supported(self) -> bool:
        """PostgreSQL, or SQLite with an in-memory test database; other set-ups keep
        Django's own creation."""
        if self.connection.settings_dict["TEST"].get("MIGRATE") is False:
            return False
        if self.is_postgresql:
            return True
        if self.connection.vendor == "sqlite":
            return self.creation.is_in_memory_db(self.creation._get_test_db_name())
        return False

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        original = self.creation.create_test_db
        self.creation.create_test_db = self.create_test_db
        try:
            yield
        finally:
            self.creation.create_test_db = original

    def wants_template(self, marker: str | None) -> bool:
        """Is a template with this record usable? (None: missing or unfinished)"""
        if marker is None or self.rebuild:
            return False
        key, _, run = marker.partition(" ")
        return key == self.key and (self.reuse or run == self.run_id)

    # ----- the replacement ---------------------------------------------------------------

    def create_test_db(self, verbosity=1, autoclobber=False, serialize=True, keepdb=False):
        from django.conf import settings
        from django.core.management import call_command

        if self.is_postgresql:
            name = self._postgresql_clone(verbosity)
        else:
            name = self._sqlite_clone(verbosity)
        self.connection.close()
        settings.DATABASES[self.connection.alias]["NAME"] = name
        self.connection.settings_dict["NAME"] = name
        if serialize:  # setup_databases passes False and serializes itself
            self.connection._test_serialized_contents = self.creation.serialize_db_to_string()
        call_command("createcachetable", database=self.connection.alias)
        self.connection.ensure_connection()
        return name

    def _build(self, verbosity: int, template_test_name: str | None) -> None:
        """Migrate a fresh database as Django would, named `template_test_name` (None: the
        connection's own in-memory test database), and point the connection back."""
        from django.conf import settings

        settings_dict = self.connection.settings_dict
        saved_name, saved_test_name = settings_dict["NAME"], settings_dict["TEST"].get("NAME")
        if template_test_name is not None:
            settings_dict["TEST"]["NAME"] = template_test_name
        try:
            type(self.creation).create_test_db(
                self.creation, verbosity=verbosity, autoclobber=True, serialize=False
            )
        finally:
            if self.is_postgresql:
                self.connection.close()
                settings_dict["NAME"] = saved_name
                settings.DATABASES[self.connection.alias]["NAME"] = saved_name
            settings_dict["TEST"]["NAME"] = saved_test_name
        self.built = True

    # ----- PostgreSQL ------------------------------------------------------------------------

    def template_name(self) -> str:
        return f"{self.template_family()}{self.key}"

    def template_family(self) -> str:
        """The name of this test database's templates without the key."""
        base = self.connection.settings_dict["NAME"]
        test_name = self.connection.settings_dict["TEST"].get("NAME")
        # xdist's suffix (`_gw0`) belongs to the worker's database, not to the template.
        base = test_name or f"test_{base}"
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        if worker and base.endswith(f"_{worker}"):
            base = base[: -len(worker) - 1]
        return f"{base[:48]}_tpl"

    def _postgresql_clone(self, verbosity: int) -> str:
        worker_name = self.creation._get_test_db_name()
        template, family = self.template_name(), self.template_family()
        quote = self.connection.ops.quote_name
        with self.creation._nodb_cursor() as cursor:
            # One builder at a time per template family; freed when this session ends.
            cursor.execute("SELECT pg_advisory_lock(%s)", [_lock_id(family)])
            try:
                cursor.execute(
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
                    " WHERE datname = %s",
                    [template],
                )
                row = cursor.fetchone()
                if not self.wants_template(row[0] if row else None):
                    self._build(verbosity, template)
                    # The record is hex digits and a space: safe as a literal.
                    record = f"{self.key} {self.run_id}"
                    cursor.execute(f"COMMENT ON DATABASE {quote(template)} IS '{record}'")
                    # Templates of other migrations (older runs of this test name) go.
                    cursor.execute(
                        "SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s",
                        [family.replace("_", r"\_") + "%", template],
                    )
                    for (stale,) in cursor.fetchall():
                        try:
                            cursor.execute(f"DROP DATABASE IF EXISTS {quote(stale)}")
                        except self.connection.Database.Error as error:  # in use: next time
                            self.creation.log(f"Kept old test template {stale}: {error}")
                if verbosity >= 1:
                    self.creation.log(f"Copying test database {worker_name} from {template}...")
                cursor.execute(f"DROP DATABASE IF EXISTS {quote(worker_name)}")
                cursor.execute(f"CREATE DATABASE {quote(worker_name)} TEMPLATE {quote(template)}")
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_lock_id(family)])
        return worker_name

    # ----- SQLite ------------------------------------------------------------------------------

    def template_path(self) -> Path:
        folder = Path(tempfile.gettempdir()) / f"rapport-test-templates-{os.getuid()}"
        folder.mkdir(exist_ok=True)
        source = str(self.connection.settings_dict["NAME"])
        tag = hashlib.sha256(source.encode()).hexdigest()[:8]
        return folder / f"{tag}-{self.key}.sqlite3"

    def _sqlite_clone(self, verbosity: int) -> str:
        path = self.template_path()
        marker = path.with_suffix(".built")
        with open(path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                record = marker.read_text() if marker.exists() and path.exists() else None
                if not self.wants_template(record):
                    marker.unlink(missing_ok=True)
                    self._build(verbosity, None)  # in memory, as before
                    partial = path.with_suffix(f".{os.getpid()}.part")
                    target = sqlite3.connect(partial)
                    try:
                        self.connection.connection.backup(target)
                    finally:
                        target.close()
                    os.replace(partial, path)
                    marker.write_text(f"{self.key} {self.run_id}")
                else:  # read under the lock: another run may be replacing the file
                    self._sqlite_read(path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return self.creation._get_test_db_name()

    def _sqlite_read(self, path: Path) -> None:
        """Fill this process's in-memory test database from the template file."""
        from django.conf import settings

        name = self.creation._get_test_db_name()
        self.connection.close()
        settings.DATABASES[self.connection.alias]["NAME"] = name
        self.connection.settings_dict["NAME"] = name
        self.connection.ensure_connection()
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            source.backup(self.connection.connection)
        finally:
            source.close()


def _lock_id(name: str) -> int:
    """A signed 64-bit advisory lock id for a name."""
    return zlib.crc32(f"rapport-test-template:{name}".encode())
