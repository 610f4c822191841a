"""Test settings: fast hashing, in-memory cache, tasks run immediately."""

import os

os.environ.setdefault("RAPPORT_DEV", "1")

from rapport.settings import *  # noqa: E402,F403
from rapport.settings import DATABASES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
AXES_ENABLED = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": None}  # in-memory
DATABASES["default"]["CONN_MAX_AGE"] = 0

# Files written by tests land in a throwaway folder, one per test process.
import tempfile  # noqa: E402

MEDIA_ROOT = tempfile.mkdtemp(prefix="rapport-test-media-")
RAPPORT_MAIL_KEY = "x6ZQW3n0mJ5cFq0yW2G1sT2m8nJ2b3k9XhVt8Y1p3Qc="
