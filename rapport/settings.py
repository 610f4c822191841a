"""Rapport settings, read from the environment (12-factor).

Every setting a deployment may change is an environment variable; see README.md.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# Local development (`make run` sets it): a fixed key and static files served from the apps'
# folders, but DEBUG stays off unless asked for, so users see Rapport's error pages.
RAPPORT_DEV = env_bool("RAPPORT_DEV", False)
# A fixed development key is only acceptable in development; production must set SECRET_KEY.
SECRET_KEY = os.environ.get("SECRET_KEY") or (
    "dev-insecure-rapport-key-change-me" if DEBUG or RAPPORT_DEV else ""
)
if not SECRET_KEY:
    raise RuntimeError("SECRET_KEY must be set (or RAPPORT_DEV=1 for local development)")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "ninja",
    "django_htmx",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "rapport.identity",
    "rapport.records",
    "rapport.accounts",
    "rapport.leads",
    "rapport.sales",
    "rapport.orders",
    "rapport.activities",
    "rapport.timeline",
    "rapport.api",
    "rapport.duplicates",
    "rapport.imports",
    "rapport.analytics",
    "rapport.search",
    "rapport.scheduling",
    "rapport.demo",
    "rapport.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "rapport.web.dates.DateLocaleMiddleware",
    "rapport.api.nul.NulTextMiddleware",
    "rapport.api.idempotency.IdempotencyMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "rapport.urls"
WSGI_APPLICATION = "rapport.wsgi.application"
ASGI_APPLICATION = "rapport.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "rapport" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "rapport.web.abilities.abilities",
            ],
        },
    },
]

# SQLite (WAL) is the embedded default; PostgreSQL through DATABASE_URL in production.
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'rapport.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        # Persistent connections: without them PostgreSQL adds ~5 ms a request.
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "600")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
            "PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;"
        ),
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0 if env_bool("SQLITE_NO_PERSIST") else 600

AUTH_USER_MODEL = "identity.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"

# Login throttling (django-axes, rapport.identity.login_throttle): lock a username+address pair
# after AXES_FAILURE_LIMIT failures, and an address after RAPPORT_LOGIN_FAILURES_PER_ADDRESS
# failures on any names (password spraying), for AXES_COOLOFF_TIME.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
RAPPORT_LOGIN_FAILURES_PER_ADDRESS = int(os.environ.get("LOGIN_FAILURES_PER_ADDRESS", "20"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "rapport.identity.login_throttle.LoginThrottleHandler"
AXES_LOCKOUT_TEMPLATE = "web/auth/locked.html"
# The client address comes from X-Forwarded-For only behind this many trusted reverse proxies
# (each appends the address it saw); 0 = the connection's own address (REMOTE_ADDR).
RAPPORT_TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
AXES_CLIENT_IP_CALLABLE = "rapport.identity.login_throttle.client_address"

SESSION_ENGINE = "django.contrib.sessions.backends.db"

CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
        if os.environ.get("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Background work: the database backend needs no extra service; RQ on Redis scales out.
TASK_BACKEND = os.environ.get("TASK_BACKEND", "database")
if TASK_BACKEND == "rq":
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {"default": {"URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")}}
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
elif TASK_BACKEND == "immediate":
    TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Periodic jobs, enqueued by `manage.py scheduler` (`make scheduler`) and run by the workers:
# `every` N seconds or daily `at` "HH:MM" (TIME_ZONE).
RAPPORT_SCHEDULE = [
    {
        "name": "analytics-refresh",
        "task": "rapport.analytics.tasks.analytics_refresh_scheduled_task",
        "at": os.environ.get("RAPPORT_ANALYTICS_REFRESH_AT", "02:00"),
    },
    *(
        {
            "name": f"duplicates-{object_type}",
            "task": "rapport.duplicates.tasks.find_duplicates_task",
            "kwargs": {"object_type": object_type},
            "at": "03:00",
        }
        for object_type in ("contact", "account", "lead")
    ),
    {"name": "search-optimize", "task": "rapport.search.tasks.search_optimize_task", "at": "04:00"},
    {
        "name": "idempotency-purge",
        "task": "rapport.api.tasks.idempotency_purge_task",
        "every": 3600,
    },
    {
        "name": "import-files-purge",
        "task": "rapport.imports.tasks.import_files_purge_task",
        "at": "04:30",
    },
]

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "rapport@localhost")

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
# Without DEBUG, WhiteNoise serves only collected files (STATIC_ROOT); in development it looks
# in the apps' static folders too, so `make run` needs no collectstatic.
WHITENOISE_USE_FINDERS = DEBUG or RAPPORT_DEV
WHITENOISE_AUTOREFRESH = DEBUG or RAPPORT_DEV
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The organisation's reporting currency (amounts in other currencies convert through ExchangeRate).
RAPPORT_CURRENCY = os.environ.get("RAPPORT_CURRENCY", "EUR")
# Default region used to parse phone numbers written without a country code.
RAPPORT_PHONE_REGION = os.environ.get("RAPPORT_PHONE_REGION", "US")
# Lists count exactly up to this many rows, then answer "10000+".
RAPPORT_COUNT_CAP = 10_000
# Uploaded import files (kept for the job's rerun and rejected-rows download, purged after 30 days).
RAPPORT_IMPORT_DIR = Path(os.environ.get("RAPPORT_IMPORT_DIR", BASE_DIR / "var" / "imports"))
# The largest import file accepted, in bytes (default 2 GiB; the import streams, memory stays flat).
RAPPORT_IMPORT_MAX_BYTES = int(os.environ.get("RAPPORT_IMPORT_MAX_BYTES", 2 * 1024**3))
# What an XLSX upload may unpack to (its XML parts together): the work one file may cost.
RAPPORT_IMPORT_MAX_XLSX_UNPACKED = int(
    os.environ.get("RAPPORT_IMPORT_MAX_XLSX_UNPACKED", 4 * 1024**3)
)
# The time the web request may spend reading an XLSX upload's header and first rows.
RAPPORT_IMPORT_XLSX_HEADER_SECONDS = float(
    os.environ.get("RAPPORT_IMPORT_XLSX_HEADER_SECONDS", "5")
)

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (django-csp; Django 6 has the same in core): every script and style
# comes from our own static files (vendored htmx, Chart.js, SortableJS, ninja's Swagger UI, the
# admin's), never inline, so an injected <script> or style="" does nothing. Templates carry no
# inline script, style attribute or on* handler; htmx's own indicator <style> is switched off
# in base.html (its rules live in rapport.css). data: images: Swagger UI's and the admin's icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
HTTPS = not DEBUG and env_bool("HTTPS", False)
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # HSTS: browsers refuse plain HTTP for this host for a year once they have seen it over TLS.
    # Subdomains and preload only when the deployment says so (they bind every other host).
    SECURE_HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
