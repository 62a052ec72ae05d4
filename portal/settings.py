"""Switchboard settings, read from the environment (django-environ).

Every setting has a default that runs embedded on a laptop (SQLite under ``var/``, a file-system
Celery broker); PostgreSQL and Redis are one variable away. See the README's configuration table.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("SWITCHBOARD_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()
env.read_env(BASE_DIR / ".env")  # optional; real deployments set the environment

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-dev-only-secret-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "tenants",
    "relay",
    "portal",
    "portal.console",
    "portal.api",
    "sandbox",  # only for `manage.py sandbox`; the simulators never import the product
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.unavailable.DatabaseUnavailableMiddleware",
    "portal.api.caching.ApiNoStoreMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

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
            ],
            # safe_url: the filter every template applies to a URL from outside (only http and https).
            "builtins": ["portal.templatetags.safe_urls"],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'switchboard.sqlite3'}")}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process, the worker and the listener share the file without "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
# A web request on a connection that ended a request cleanly less than this many seconds ago skips Django's
# health check (a SELECT 1 round trip per request under load; portal/db_health.py). 0: check every time.
DB_HEALTH_CHECK_AFTER_IDLE_SECONDS = env.float("DB_HEALTH_CHECK_AFTER_IDLE_SECONDS", default=1.0)
# The hot statements prepared on PostgreSQL (portal/sql.py); off behind PgBouncer in transaction mode before 1.21.
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "tenants.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "staticfiles"))
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

LOGIN_URL = "admin:login"

# --- Secrets at rest -------------------------------------------------------------------------------
# A list of Fernet keys, newest first. Never derived from SECRET_KEY: rotating one must not lose the other.
ENCRYPTION_KEYS = env.list("ENCRYPTION_KEYS", default=[])
DEV_ENCRYPTION_KEY_FILE = VAR_DIR / "encryption.key"
if not ENCRYPTION_KEYS and not DEBUG:
    raise ImproperlyConfigured("ENCRYPTION_KEYS must be set when DEBUG is off (see README, 'Configuration').")

# --- Cache (Salesforce tokens, lists fetched from Salesforce and providers) ----------------------------
# Shared by every process: the embedded default is a file cache under var/, production uses Redis.
CACHES = {"default": env.cache("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}

# --- Celery ----------------------------------------------------------------------------------------
# The host part means nothing to the file-system transport; without one kombu warns on every connection.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost/")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_queue_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message for another worker
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery closes a worker's database connection before and after every task unless told to reuse it: a new
# PostgreSQL connection per task cost a worker 14% of its time in the benchmark. Reused for this many tasks;
# before each task portal/celery.py applies CONN_MAX_AGE and the health check, as Django does per request.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
RELAY_SWEEP_SECONDS = env.float("RELAY_SWEEP_SECONDS", default=15.0)
RELAY_RETRY_BASE_SECONDS = env.float(
    "RELAY_RETRY_BASE_SECONDS", default=2.0
)  # first retry; doubles each time
RELAY_RETRY_CAP_SECONDS = env.float("RELAY_RETRY_CAP_SECONDS", default=600.0)
# Tries a message (or Salesforce notice) gets when delivering it fails on an error of ours (a bug, content we
# cannot handle) before it is failed and the line moves on: no content holds a conversation longer.
RELAY_MAX_INTERNAL_ERRORS = env.int("RELAY_MAX_INTERNAL_ERRORS", default=5)
RELAY_LISTENER_DB_THREADS = env.int("RELAY_LISTENER_DB_THREADS", default=4)  # relay_listen: DB connections
# Several relay_listen processes share the tenants, each tenant leased to one (relay/salesforce/shards.py): a
# lease lasts this long unless renewed (every third of it), so a dead process's tenants move within about it.
RELAY_LISTENER_LEASE_SECONDS = env.float("RELAY_LISTENER_LEASE_SECONDS", default=10.0)
# Pub/Sub subscriptions per gRPC connection (a server caps the streams open on one HTTP/2 connection).
RELAY_PUBSUB_STREAMS_PER_CHANNEL = env.int("RELAY_PUBSUB_STREAMS_PER_CHANNEL", default=50)
HANDOVER_AGENT_POLL_SECONDS = env.float(
    "HANDOVER_AGENT_POLL_SECONDS", default=10.0
)  # a waiting handover asks again
# Legacy Chat desk: how often a held message asks Visitor/Availability again; how many chats relay_listen
# long-polls at once (threads, each with its own database connection while it records a batch).
LIVECHAT_AGENT_POLL_SECONDS = env.float("LIVECHAT_AGENT_POLL_SECONDS", default=2.0)
LIVECHAT_POLL_THREADS = env.int("LIVECHAT_POLL_THREADS", default=32)
RELAY_LEASE_SECONDS = env.float(
    "RELAY_LEASE_SECONDS", default=90.0
)  # a dead worker's conversation waits this long
# A delivery report's Salesforce notices wait this long for the conversation's next reports, so one task and one
# acknowledgement call carry them together (relay/lines/wake.py); 0 sends each report's at once.
RELAY_NOTICES_GATHER_SECONDS = env.float("RELAY_NOTICES_GATHER_SECONDS", default=0.25)
CELERY_BEAT_SCHEDULE = {
    "relay-sweep": {"task": "relay.tasks.sweep", "schedule": RELAY_SWEEP_SECONDS, "options": {"expires": 60}},
    "cases-transcript-sweep": {
        "task": "relay.cases.sweep_transcripts",
        "schedule": RELAY_SWEEP_SECONDS,
        "options": {"expires": 60},
    },
    "whatsapp-template-sync": {
        "task": "tenants.template_sync.sync_all_whatsapp_templates",
        "schedule": env.float("TEMPLATE_SYNC_SECONDS", default=900.0),
        "options": {"expires": 600},
    },
    # The Case panel's files whose link expired and whose message is over (case_panel/attachments.py).
    "case-panel-files-purge": {
        "task": "console.case_panel.purge_files",
        "schedule": 3600.0,
        "options": {"expires": 600},
    },
}
# How long the link of a file an agent sends from the Case panel works; the file is deleted after that.
CASE_PANEL_FILE_DAYS = env.int("CASE_PANEL_FILE_DAYS", default=30)
# Task modules outside an app's tasks.py (autodiscovery finds only those).
CELERY_IMPORTS = (
    "relay.outbound.template_sync",
    "relay.outbound.template_send",
    "portal.livechecks",
    "relay.desks.cases_transcript",  # the Cases desk's transcript writes
)
# Live checks (test a connection, validate a key, fetch a list, the wizard's health check) run in the
# workers, never in a web request (portal/livechecks.py): at most this many per tenant at a time, and one
# not finished after LIVE_CHECK_STALE_SECONDS is reported as lost.
LIVE_CHECKS_PER_TENANT = env.int("LIVE_CHECKS_PER_TENANT", default=2)
LIVE_CHECK_STALE_SECONDS = env.float("LIVE_CHECK_STALE_SECONDS", default=120.0)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Outside systems -------------------------------------------------------------------------------
# The class that serves each SalesforceConnection.desk and each ProviderAccount.provider (docs/architecture.md,
# "Adding a desk or a provider"): a new one is a module and an entry here, nothing else names them.
# The only hosts (and their subdomains) a Salesforce connection's login, My Domain, SCRT and Chat API URLs may
# name, besides EGRESS_ALLOWED_HOSTS: the JWT assertion and the access token go nowhere else.
SALESFORCE_DOMAINS = env.list(
    "SALESFORCE_DOMAINS",
    default=[
        "salesforce.com",
        "force.com",
        "salesforce-scrt.com",
        "salesforceliveagent.com",
        "cloudforce.com",
        "salesforce.mil",
        "sfcrmproducts.cn",
    ],
)
SWITCHBOARD_DESKS = {
    "messaging": "relay.desks.messaging.MessagingDesk",
    "livechat": "relay.desks.livechat.LiveChatDesk",
    "enhanced_chat": "relay.desks.enhanced_chat.EnhancedChatDesk",
    "cases": "relay.desks.cases.CasesDesk",
}
# How each desk's agents reach us (a desk's ``agent_feed``) → the runner relay_listen starts for it
# (relay/desks/base.py: AgentFeed).
SWITCHBOARD_AGENT_FEEDS = {
    "pubsub": "relay.salesforce.pubsub.Listener",
    "livechat": "relay.desks.livechat_poll.ChatPoller",
    "enhanced_chat": "relay.desks.enhanced_chat_feed.EnhancedChatFeed",
}
SWITCHBOARD_PROVIDERS = {
    "infobip": "relay.providers.infobip.client.InfobipProvider",
    "8x8": "relay.providers.eightbyeight.client.EightByEightProvider",
}
# A provider's largest batch must fit: an Infobip notification profile sends up to 2,000 results a request
# (maxBucketSize), about 1.4 MB of delivery reports and several MB of customer messages. Webhooks read their
# body themselves, up to this, whatever DATA_UPLOAD_MAX_MEMORY_SIZE says (relay/inbound/auth.py).
WEBHOOK_MAX_BYTES = env.int("WEBHOOK_MAX_BYTES", default=16 * 1024 * 1024)
HTTP_TIMEOUT_SECONDS = env.float("HTTP_TIMEOUT_SECONDS", default=10.0)
# Longest answer read from Salesforce or a provider (media downloads have MEDIA_MAX_BYTES): far above any JSON
# answer the relay asks for (a large object's describe, an unpaged WhatsApp template list), far below harm.
HTTP_MAX_RESPONSE_BYTES = env.int("HTTP_MAX_RESPONSE_BYTES", default=8 * 1024 * 1024)
# The egress guard (portal/egress.py) refuses loopback, private, link-local, CGNAT, metadata... addresses for
# every outbound request, except for the hosts listed here ("host" or "host:port", e.g. a local sandbox).
EGRESS_ALLOWED_HOSTS = env.list("EGRESS_ALLOWED_HOSTS", default=[])
# How long a host name lookup (the guard's, the URL validators') may take: a DNS server that never answers must
# not hold a web worker for the system resolver's own timeout.
EGRESS_DNS_TIMEOUT_SECONDS = env.float("EGRESS_DNS_TIMEOUT_SECONDS", default=3.0)
# Largest inbound attachment downloaded from a provider (Salesforce takes 25 MiB; larger goes as a link).
MEDIA_MAX_BYTES = env.int("MEDIA_MAX_BYTES", default=25 * 1024 * 1024)
SALESFORCE_API_VERSION = env.str("SALESFORCE_API_VERSION", default="63.0")
SALESFORCE_PUBSUB_ENDPOINT = env.str("SALESFORCE_PUBSUB_ENDPOINT", default="api.pubsub.salesforce.com:7443")
SALESFORCE_PUBSUB_TLS = env.bool("SALESFORCE_PUBSUB_TLS", default=True)

# --- REST API --------------------------------------------------------------------------------------
# The partner API (portal/api, docs/partner-api.md): API keys, rate limits per key, one error shape.
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "portal.api.schema.PartnerApiSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["portal.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["portal.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "partner_api": env.str("API_RATE_LIMIT", default="1200/min"),
        "partner_api_send": env.str("API_SEND_RATE_LIMIT", default="300/min"),
    },
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.ApiCursorPagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "portal.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # Callers without a key are rate-limited by address: REMOTE_ADDR, or behind TRUSTED_PROXIES proxies the
    # address the nearest one appended to X-Forwarded-For. Never the whole header (DRF's default without
    # NUM_PROXIES): a client writes its own, a new one per request, and was never limited.
    "NUM_PROXIES": env.int("TRUSTED_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard API",
    "VERSION": "1.0.0",
    "DESCRIPTION": "Provision and operate Switchboard tenants. Authenticate with "
    "`Authorization: Bearer <API key>`. Errors: "
    '`{"error": {"status", "code", "message", "fields"}}`. See docs/partner-api.md.',
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "MessageStatusEnum": "relay.models.Message.Status",
        "ConversationStatusEnum": "relay.models.Conversation.Status",
        "WebhookDeliveryStatusEnum": "portal.api.models.WebhookDelivery.Status",
        "RoutingTargetEnum": "tenants.models.RoutingRule.Target",
        "WebhookAuthEnum": "tenants.models.ProviderAccount.WebhookAuth",
    },
}

# --- Security --------------------------------------------------------------------------------------
# README "Deploy" lists the production values; `manage.py check --deploy` passes with them (tests/unit/
# test_deploy_settings.py runs it).
X_FRAME_OPTIONS = "DENY"  # the console pages set their own frame-ancestors
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
# Cookies only over https once DEBUG is off (the tests over plain http turn it off explicitly).
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=SESSION_COOKIE_SECURE)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load-balancer probes speak plain http inside the network
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# X-Forwarded-Proto decides whether a request was https: trusted only behind a proxy that always sets it
# (and strips a client's own), or anyone could claim https.
TRUST_X_FORWARDED_PROTO = env.bool("TRUST_X_FORWARDED_PROTO", default=False)
if TRUST_X_FORWARDED_PROTO:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "portal.logging.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
