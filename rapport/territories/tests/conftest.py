from rapport.imports.tests.conftest import import_dir, run, upload  # noqa: F401 - fixtures
