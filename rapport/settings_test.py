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
