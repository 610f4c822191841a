"""Rapport settings, read from the environment (12-factor).

Every setting a deployment may change is an environment variable; see README.md.
"""

import os
import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from rapport.files.storage_config import default_storage_from_env as _default_storage_from_env
from rapport.files.storage_config import file_storage_kind as _file_storage_kind

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
    "rapport.files",
    "rapport.mail",
    "rapport.consent",
    "rapport.notifications",
    "rapport.api",
    "rapport.duplicates",
    "rapport.imports",
    "rapport.analytics",
    "rapport.search",
    "rapport.scheduling",
    "rapport.webhooks",
    "rapport.calendars",
    "rapport.cases",
    "rapport.knowledge",
    "rapport.sla",
    "rapport.automation",
    "rapport.segments",
    "rapport.territories",
    "rapport.scoring",
    "rapport.campaigns",
    "rapport.assets",
    "rapport.quotes",
    "rapport.playbooks",
    "rapport.sequences",
    "rapport.forecasts",
    "rapport.fieldservice",
    "rapport.webforms",
    "rapport.webtrack",
    "rapport.marketing",
    "rapport.portal",
    "rapport.surveys",
    "rapport.returns",
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
    "rapport.portal.middleware.PortalMiddleware",
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
                "rapport.notifications.context.notifications",
            ],
        },
    },
]

# Covering indexes (`include=`, e.g. sales' opp_owner_stage_sums) are PostgreSQL's; on SQLite
# Django builds them without the extra columns, as intended, and would say so (models.W040)
# on every manage.py command, `make run` included.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

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


def _pg_session_setting(name: str, value: str) -> None:
    """Set a PostgreSQL setting on every connection of the app (libpq `options`)."""
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c {name}={value}".strip()


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
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not env_bool("PG_JIT"):
    # PostgreSQL's JIT compiles any statement whose estimate passes jit_above_cost; for the
    # CRM's interactive statements (a forecast's open deals, a typeahead's candidates) the
    # compile alone cost 100-150 ms, more than it saved. PG_JIT=1 keeps the server's setting.
    _pg_session_setting("jit", "off")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and (
    _work_mem := os.environ.get("PG_WORK_MEM", "16MB")
):
    # A user who sees part of the records has lists of children (activities, orders,
    # timeline) filtered by "linked to a record I see": hashed sets of the visible ids
    # (a rep's 166,665 contacts at 1M, a manager's 500,000). Under the server's default 4 MB
    # the planner can not hash them and runs the subquery again for every row: the rep's
    # "All activities" page did not answer in 60 s; with 16 MB its count took 0.4 s.
    # PG_WORK_MEM sets another size; empty keeps the server's.
    if not re.fullmatch(r"\d+(kB|MB|GB)?", _work_mem):
        raise ImproperlyConfigured(f"PG_WORK_MEM={_work_mem!r}: a size such as 16MB")
    _pg_session_setting("work_mem", _work_mem)

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
    {"name": "mail-send", "task": "rapport.mail.tasks.send_due_task", "every": 30},
    # Campaigns: scheduled sends, A/B decisions, the rate limiter's next minute.
    {
        "name": "campaign-dispatch",
        "task": "rapport.campaigns.tasks.campaign_dispatch_task",
        "every": 30,
    },
    # SLA warnings, breaches and second-level escalations that fell due.
    {"name": "sla-escalations", "task": "rapport.sla.tasks.sla_escalations_task", "every": 60},
    {
        "name": "reminders",
        "task": "rapport.notifications.tasks.reminders_send_due_task",
        "every": 60,
    },
    {
        # Hourly and daily notification digests, in each user's working hours.
        "name": "notification-digests",
        "task": "rapport.notifications.tasks.digests_send_due_task",
        "every": int(os.environ.get("RAPPORT_DIGEST_SECONDS", "300")),
    },
    {
        # Missed dispatches, cron and date rules, ended waits, runs of a dead worker.
        "name": "automation-sweep",
        "task": "rapport.automation.tasks.automation_sweep_task",
        "every": 30,
    },
    {
        # Lead scoring and win probability: retrain on the organisation's history, rescore.
        "name": "scoring-retrain",
        "task": "rapport.scoring.tasks.scoring_retrain_task",
        "at": os.environ.get("RAPPORT_SCORING_RETRAIN_AT", "03:30"),
    },
    {
        # Lifecycle stages and dynamic segments: repairs the drift of relative dates and
        # analytics scores (after the analytics refresh), reports the rows it fixed.
        "name": "segments-nightly",
        "task": "rapport.segments.tasks.segments_nightly_task",
        "at": os.environ.get("RAPPORT_SEGMENTS_REFRESH_AT", "02:30"),
    },
    {
        # NPS surveys N days after an order (rapport/surveys).
        "name": "surveys-nps-due",
        "task": "rapport.surveys.tasks.nps_send_due_task",
        "at": os.environ.get("RAPPORT_NPS_SEND_AT", "09:00"),
    },
    {
        "name": "automation-outbox-purge",
        "task": "rapport.automation.tasks.automation_purge_task",
        "at": "04:45",
    },
    {
        "name": "import-files-purge",
        "task": "rapport.imports.tasks.import_files_purge_task",
        "at": "04:30",
    },
    {
        "name": "mail-sync",
        "task": "rapport.mail.sync_tasks.mail_sync_all_task",
        "every": int(os.environ.get("RAPPORT_MAIL_SYNC_SECONDS", "120")),
    },
    # Due webhook deliveries (retries; new ones are also sent right after their commit).
    {"name": "webhook-deliveries", "task": "rapport.webhooks.tasks.deliver_due_task", "every": 30},
    {
        "name": "webhook-logs-purge",
        "task": "rapport.webhooks.tasks.webhook_logs_purge_task",
        "at": "04:45",
    },
]
# A CA bundle trusted for mail servers besides the system's (a private CA; the tests' server).
RAPPORT_MAIL_CA_FILE = os.environ.get("RAPPORT_MAIL_CA_FILE", "")

# The address of this Rapport as users reach it: links in notification emails.
RAPPORT_BASE_URL = os.environ.get("RAPPORT_BASE_URL", "http://localhost:8000")

# Quotes (rapport/quotes): the company on the PDF, the discount over which a manager approves,
# how long a quote is valid by default and the terms printed on it.
RAPPORT_COMPANY_NAME = os.environ.get("RAPPORT_COMPANY_NAME", "Rapport")
RAPPORT_COMPANY_ADDRESS = os.environ.get("RAPPORT_COMPANY_ADDRESS", "")
RAPPORT_COMPANY_LOGO = os.environ.get("RAPPORT_COMPANY_LOGO", "")  # a PNG/SVG file path
RAPPORT_QUOTE_APPROVAL_DISCOUNT = float(os.environ.get("RAPPORT_QUOTE_APPROVAL_DISCOUNT", "15"))
RAPPORT_QUOTE_VALID_DAYS = int(os.environ.get("RAPPORT_QUOTE_VALID_DAYS", "30"))
RAPPORT_QUOTE_TERMS = os.environ.get("RAPPORT_QUOTE_TERMS", "")

# Marketing web (rapport/webforms, rapport/webtrack): the company's own sites (comma list of
# domains; subdomains included). The tracking script's collector answers CORS only for them,
# forms redirect only to them and may be framed only by them; the campaigns' click redirect
# adds utm_* and the visitor token `rpv` to links pointing at them.
RAPPORT_TRACKED_SITE_DOMAINS = env_list("RAPPORT_TRACKED_SITE_DOMAINS")
# The consent purpose (slug) a person must have opted in to before their page views are kept.
RAPPORT_TRACKING_PURPOSE = os.environ.get("RAPPORT_TRACKING_PURPOSE", "web-tracking")
# Public form submissions per IP address and window (seconds), accepted and refused together.
RAPPORT_FORM_RATE_LIMIT = int(os.environ.get("RAPPORT_FORM_RATE_LIMIT", "5"))
RAPPORT_FORM_RATE_WINDOW = int(os.environ.get("RAPPORT_FORM_RATE_WINDOW", "600"))
# Churn risk at or above this (0–1) fires the automation trigger "churn.risk_crossed" when an
# analytics refresh moves a customer across it.
RAPPORT_CHURN_ALERT_THRESHOLD = float(os.environ.get("RAPPORT_CHURN_ALERT_THRESHOLD", "0.7"))

# Outbound webhooks (rapport/webhooks/http.py): networks the client may reach although they
# are not public (comma-separated CIDRs; administrators add more in Settings → Webhooks),
# timeouts in seconds and the most of a response that is read.
RAPPORT_WEBHOOK_ALLOWED_NETWORKS = [
    n.strip()
    for n in os.environ.get("RAPPORT_WEBHOOK_ALLOWED_NETWORKS", "").split(",")
    if n.strip()
]
RAPPORT_WEBHOOK_CONNECT_TIMEOUT = float(os.environ.get("RAPPORT_WEBHOOK_CONNECT_TIMEOUT", "5"))
RAPPORT_WEBHOOK_READ_TIMEOUT = float(os.environ.get("RAPPORT_WEBHOOK_READ_TIMEOUT", "10"))
RAPPORT_WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024
# A subscription is disabled when every try failed for this long and this many times.
RAPPORT_WEBHOOK_DISABLE_AFTER_HOURS = 24
RAPPORT_WEBHOOK_DISABLE_MIN_FAILURES = 10
# Inbound webhooks: the largest body accepted.
RAPPORT_INBOUND_MAX_BYTES = 256 * 1024

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
# Uploaded files, email attachments and raw messages (rapport.files); an S3-compatible store
# can replace the default storage (django-storages).
MEDIA_ROOT = Path(os.environ.get("RAPPORT_MEDIA_DIR", BASE_DIR / "var" / "media"))
MEDIA_URL = "/files/media/"
# RAPPORT_FILE_STORAGE=s3 (+ RAPPORT_S3_* variables): see rapport/files/storage_config.py.
RAPPORT_FILE_STORAGE = _file_storage_kind(os.environ)
STORAGES = {
    "default": _default_storage_from_env(os.environ),
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The largest file one upload on a record may be, in bytes (default 25 MiB).
RAPPORT_MAX_UPLOAD_BYTES = int(os.environ.get("RAPPORT_MAX_UPLOAD_BYTES", 25 * 1024**2))

# The organisation's reporting currency (amounts in other currencies convert through ExchangeRate).
RAPPORT_CURRENCY = os.environ.get("RAPPORT_CURRENCY", "EUR")
# Default region used to parse phone numbers written without a country code.
RAPPORT_PHONE_REGION = os.environ.get("RAPPORT_PHONE_REGION", "US")
# Automation: how deep rules may trigger rules; how long a worker holds a run before another
# may resume it (a dead worker's runs resume after this).
AUTOMATION_MAX_DEPTH = int(os.environ.get("AUTOMATION_MAX_DEPTH", "5"))
AUTOMATION_RUN_LEASE_SECONDS = int(os.environ.get("AUTOMATION_RUN_LEASE_SECONDS", "300"))

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
# The time the worker may spend reading an XLSX upload's header and first rows (uploads are
# read by the worker, never in the web request).
RAPPORT_IMPORT_XLSX_HEADER_SECONDS = float(
    os.environ.get("RAPPORT_IMPORT_XLSX_HEADER_SECONDS", "5")
)
# The most data rows one import file may have (the worker refuses a longer one before writing).
RAPPORT_IMPORT_MAX_ROWS = int(os.environ.get("RAPPORT_IMPORT_MAX_ROWS", 10_000_000))

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

# Fernet key(s) that encrypt mailbox passwords (rapport.mail.crypto); comma-separated, first
# encrypts. Unset in development: a key is generated into var/mail.key (with a warning).
RAPPORT_MAIL_KEY = os.environ.get("RAPPORT_MAIL_KEY", "")
# The domain our Message-IDs carry (default: DEFAULT_FROM_EMAIL's domain).
RAPPORT_MAIL_DOMAIN = os.environ.get("RAPPORT_MAIL_DOMAIN", "")
# The outbox worker (rapport.mail.sender): how long a claim holds a delivery before another
# worker may take it over, how many attempts a temporary (4xx) failure gets, the SMTP timeout.
RAPPORT_MAIL_LEASE_SECONDS = int(os.environ.get("RAPPORT_MAIL_LEASE_SECONDS", "300"))
# Campaigns: default send rate (messages a minute) and the dispatcher's claim lease.
RAPPORT_CAMPAIGN_RATE_PER_MINUTE = int(os.environ.get("RAPPORT_CAMPAIGN_RATE_PER_MINUTE", "600"))
RAPPORT_CAMPAIGN_LEASE_SECONDS = int(os.environ.get("RAPPORT_CAMPAIGN_LEASE_SECONDS", "300"))
RAPPORT_MAIL_MAX_ATTEMPTS = int(os.environ.get("RAPPORT_MAIL_MAX_ATTEMPTS", "8"))
RAPPORT_MAIL_SMTP_TIMEOUT = float(os.environ.get("RAPPORT_MAIL_SMTP_TIMEOUT", "30"))

# The service desk (rapport.cases): a customer's reply reopens a resolved case within this
# many days; later it opens a new case linked to the old one.
RAPPORT_CASE_REOPEN_DAYS = int(os.environ.get("RAPPORT_CASE_REOPEN_DAYS", "14"))
