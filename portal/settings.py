"""Django settings, read from the environment only (12-factor).

PORTAL_ENV chooses the defaults: ``demo`` (the default: SQLite, a file broker, secrets generated into
var/), ``test``, or ``production`` (refuses to start without its secrets and real services).
"""

import json
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from portal.core.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PORTAL_VAR_DIR", str(BASE_DIR / "var")))

PORTAL_ENV = env_str("PORTAL_ENV", "demo")
if PORTAL_ENV not in {"demo", "test", "production"}:
    raise ImproperlyConfigured("PORTAL_ENV must be demo, test or production.")
PRODUCTION = PORTAL_ENV == "production"


def _demo_secrets() -> dict[str, str]:
    """Secrets for demo and test runs, made once per checkout and kept in var/ (never in code)."""
    path = VAR_DIR / "demo-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    made = {
        "secret_key": secrets.token_urlsafe(50),
        "field_keys": "k1:" + secrets.token_urlsafe(32),
        "lookup_key": secrets.token_urlsafe(32),
    }
    # O_EXCL: two processes starting at once must not end up with different keys.
    try:
        with open(path, "x") as handle:
            json.dump(made, handle)
        path.chmod(0o600)
    except FileExistsError:
        return json.loads(path.read_text())
    return made


_fallback = {} if PRODUCTION else _demo_secrets()


def _secret(name: str, fallback_key: str) -> str:
    if PRODUCTION:
        return env_str(name)
    return env_str(name, _fallback[fallback_key])


SECRET_KEY = _secret("SECRET_KEY", "secret_key")
# Field encryption keys, "kid:base64url-key" separated by commas; the first encrypts, all decrypt.
FIELD_ENCRYPTION_KEYS = _secret("FIELD_ENCRYPTION_KEYS", "field_keys")
# Key of the keyed hashes that make encrypted values searchable (My Number, certificate serials).
LOOKUP_HASH_KEY = _secret("LOOKUP_HASH_KEY", "lookup_key")

DEBUG = env_bool("DEBUG", default=False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
PORTAL_PUBLIC_URL = env_str("PORTAL_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [PORTAL_PUBLIC_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "portal.core",
    "portal.identity",
    "portal.history",
    "portal.agencies",
    "portal.provision",
    "portal.myinfo",
    "portal.dashboard",
    "portal.notify",
    "portal.account",
    "portal.proxies",
    "portal.firms",
    "portal.consents",
    "notices",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # After the CSRF check, which reads a form body first (see the class on multipart bodies).
    "portal.core.middleware.UnstorableInputMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After messages: it tells the person why they were logged out.
    "portal.identity.middleware.IdleTimeoutMiddleware",
    # After the idle time-out: a proxy's switch ends with their session.
    "portal.proxies.middleware.ActingForMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "portal.core.middleware.PortalErrorMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.core.context_processors.portal",
                "portal.proxies.middleware.acting_context",
            ],
        },
    },
]

# Databases: SQLite for the demo, DATABASE_URL (PostgreSQL) when set.
DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if PRODUCTION and DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("Production needs DATABASE_URL pointing at PostgreSQL.")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web app, worker and beat share the demo database.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "identity.User"
AUTHENTICATION_BACKENDS = ["portal.identity.backends.PortalBackend"]

# Redis for broker and cache when REDIS_URL is set; otherwise a broker and cache that need no server.
REDIS_URL = env_str("REDIS_URL", "")
if PRODUCTION and not REDIS_URL:
    raise ImproperlyConfigured("Production needs REDIS_URL.")
# A hung Redis (it accepts connections and never answers) must not hang a page: every Redis client waits at
# most this long to connect or for an answer, and a process that saw a Redis fail leaves it alone (fails at
# once, as if it refused) for the hold (portal.core.outages).
REDIS_SOCKET_TIMEOUT_SECONDS = float(env_str("REDIS_SOCKET_TIMEOUT_SECONDS", "1"))
REDIS_UNREACHABLE_HOLD_SECONDS = float(env_str("REDIS_UNREACHABLE_HOLD_SECONDS", "5"))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "portal.core.cache.PortalRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
                "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
            },
        }
    }
    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
    # An unacknowledged task (acks_late) goes back to the queue this long after its worker vanished; it
    # must outlast the longest task and retry countdown. Tests of redelivery lower it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT_SECONDS", 600),
        "socket_connect_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
        "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
    }
    # A publish that fails is tried once more, not three times: a page waits at most two timeouts, and
    # the lost-task sweep sends what could not be queued.
    CELERY_TASK_PUBLISH_RETRY_POLICY = {
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.2,
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    _broker_dir = VAR_DIR / "broker"
    # kombu's filesystem transport does not create its folders; every process may be the first to start.
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
    if CELERY_BROKER_URL == "filesystem://":
        # Lets a worker notice SIGTERM within a fifth of a second (portal.core.broker).
        CELERY_BROKER_TRANSPORT = "portal.core.broker:FilesystemTransport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        # The exchanges' bindings; kombu's default is a folder "control" in the working directory.
        "control_folder": str(_broker_dir / "control"),
    }
    # Without Redis a worker's timer (countdowns, retries) is a thread that sleeps up to this long between
    # looks and is joined when the worker stops: Celery's 1 s was a fifth of honcho's grace (0009).
    CELERY_WORKER_TIMER_PRECISION = 0.1
# Owed work with no sign of life for this long lost its task (a broker restarted without its data, say)
# and the beat's core.recover_lost_tasks sends it again. Longer than the visibility timeout, so that a
# dead worker's task comes back by itself first, and than every task's longest retry back-off. Tests of
# the recovery lower it.
LOST_TASK_STALL_SECONDS = env_int("LOST_TASK_STALL_SECONDS", 15 * 60)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
# A task running when the broker connection drops finishes (its work lands in the database) instead of
# being cancelled for a redelivery that a broker restarted without its data would never make. Celery 6
# turns this default around; the portal keeps it.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A stopping worker lets running tasks finish for this long, then stops them: their messages, not yet
# acknowledged, go back to the broker as it disconnects, and run again. The prefork worker does so in
# Celery's soft-then-cold shutdown (REMAP_SIGTERM in the Procfile), the fetch worker's thread pool in
# portal.core.pools. honcho kills what is left 5 s after SIGTERM, and the rest of a worker's shutdown
# takes about 2 s (docs/decisions/0009).
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = float(env_str("CELERY_WORKER_SOFT_SHUTDOWN_SECONDS", "1"))
# Celery's Django fix-up would close the database connection around every task (portal/celery.py keeps it
# as a request does instead): at most once in this many tasks, which is never in practice.
CELERY_DB_REUSE_MAX = 1_000_000_000
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "refresh-crl": {"task": "identity.refresh_crl", "schedule": timedelta(minutes=30)},
    "end-expired-proxies": {"task": "proxies.end_expired", "schedule": timedelta(hours=1)},
    # Owed work whose task the broker lost (portal.core.lost_tasks): fetches, reports, bank checks, mails,
    # callbacks, registrations with the medical insurer, notifications, webhook deliveries; sent again, or
    # given up, once stalled. Also, within a minute of falling due, pushes held for quiet hours and webhook
    # retries whose back-off ended (long waits are kept in the database, not in the broker).
    "core-recover-lost-tasks": {"task": "core.recover_lost_tasks", "schedule": timedelta(minutes=1)},
    "consents-expire": {"task": "consents.expire", "schedule": timedelta(minutes=10)},
    "purge-signing-requests": {"task": "identity.purge_signing_requests", "schedule": timedelta(hours=1)},
    "history-partitions": {"task": "history.ensure_partitions", "schedule": timedelta(hours=24)},
    # At 10 past every hour in TIME_ZONE (Celery follows Django's Asia/Tokyo): from 00:10 yesterday's root,
    # and the runs after it make up for one lost with the broker (a made root is found, one query).
    "history-daily-root": {"task": "history.publish_daily_root", "schedule": crontab(minute=10)},
    "myinfo-purge-expired": {"task": "myinfo.purge_expired", "schedule": timedelta(minutes=10)},
    # Hourly from 09:00 to 20:00 JST: reminders of deadlines a few business days ahead (notices.reminders),
    # each resident once; the later runs make up for a lost one, and nobody is reminded at night.
    "notices-reminders": {"task": "notices.send_reminders", "schedule": crontab(hour="9-20", minute=0)},
}

# Sessions: server-side, idle timeout for the desk-terminal case (SPEC 4).
# cached_db that carries on from the database while Redis is down (portal.core.sessions).
SESSION_ENGINE = "portal.core.sessions"
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_TIMEOUT_SECONDS", 15 * 60)
SESSION_COOKIE_AGE = 8 * 60 * 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_HTTPONLY = True
LOGIN_URL = "identity:login"

# Strict headers.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_HSTS_SECONDS = 63072000 if PRODUCTION else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if PRODUCTION else None
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Language: Japanese first, English complete.
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Tokyo"
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise expects it even when serving from finders

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Myna Portal API",
    "DESCRIPTION": "Resident-data API for firms (OAuth/OIDC consent) and the agency API.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the installed package: no CDN at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# The card (JPKI-like): trust anchors and revocation list.
JPKI_TRUST_ANCHORS = env_str("JPKI_TRUST_ANCHORS", str(VAR_DIR / "ca" / "ca-cert.pem"))
JPKI_CRL_URL = env_str("JPKI_CRL_URL", "http://127.0.0.1:8002/ca/crl.der")
CARDAPP_URL = env_str("CARDAPP_URL", "http://127.0.0.1:8002").rstrip("/")
SIGNING_REQUEST_TTL = env_int("SIGNING_REQUEST_TTL_SECONDS", 5 * 60)
STEP_UP_MAX_AGE = env_int("STEP_UP_MAX_AGE_SECONDS", 5 * 60)

# Agencies: the simulator (or real backends) and the portal's client-assertion key.
DEMO_AGENCIES_FILE = env_str("DEMO_AGENCIES", str(BASE_DIR / "demo" / "agencies.json"))
AGENCY_BASE_URL = env_str("AGENCY_BASE_URL", "http://127.0.0.1:8001").rstrip("/")
AGENCY_CLIENT_KEY_FILE = env_str("AGENCY_CLIENT_KEY", str(VAR_DIR / "keys" / "agency-client.pem"))
AGENCY_CLIENT_JWKS_FILE = env_str("AGENCY_CLIENT_JWKS", str(VAR_DIR / "keys" / "agency-client.jwks.json"))
AGENCY_HTTP_TIMEOUT = float(env_str("AGENCY_HTTP_TIMEOUT_SECONDS", "5"))
# Circuit breaker per agency (portal.agencies.breaker): open after this many failures in a row, for this long.
AGENCY_BREAKER_FAILURES = env_int("AGENCY_BREAKER_FAILURES", 5)
AGENCY_BREAKER_COOLDOWN_SECONDS = env_int("AGENCY_BREAKER_COOLDOWN_SECONDS", 30)

# My information (わたしの情報): agency payloads are cached encrypted this long, then purged (SPEC 2.1).
MYINFO_CACHE_SECONDS = env_int("MYINFO_CACHE_SECONDS", 24 * 60 * 60)
MYINFO_MAX_PAYLOAD_BYTES = env_int("MYINFO_MAX_PAYLOAD_BYTES", 512 * 1024)
# JSON Schemas of each category's data (contracts/self-information/<category>.schema.json), shared with
# the agencies; a category without one is checked for its envelope only.
MYINFO_CONTRACTS_DIR = env_str("MYINFO_CONTRACTS_DIR", str(BASE_DIR / "contracts" / "self-information"))

# Access history: the Ed25519 key that signs each day's root (PEM, PKCS#8). The demo and tests make one
# when it is missing; production refuses to sign without it (portal.history.roots never makes one there).
HISTORY_ROOT_KEY_FILE = env_str("HISTORY_ROOT_KEY", str(VAR_DIR / "keys" / "history-root.pem"))

# The consent API for firms (portal.firms, portal.consents): an OAuth 2.0 / OpenID Connect server.
# The ID-token signing key is an EC P-256 private key (PEM); the demo and tests make one when it is missing.
OIDC_SIGNING_KEY_FILE = env_str("OIDC_SIGNING_KEY", str(VAR_DIR / "keys" / "oidc-signing.pem"))
# The issuer: the portal's public origin. Discovery, audiences and DPoP's htu are built from it.
OIDC_ISSUER = env_str("OIDC_ISSUER", None if PRODUCTION else "http://127.0.0.1:8000").rstrip("/")
CONSENT_ACCESS_TOKEN_SECONDS = min(env_int("CONSENT_ACCESS_TOKEN_SECONDS", 10 * 60), 10 * 60)
CONSENT_CODE_SECONDS = env_int("CONSENT_CODE_SECONDS", 60)
CONSENT_PAR_SECONDS = env_int("CONSENT_PAR_SECONDS", 90)
# Consenting needs a card login at most this old (the consent screen asks for a new one otherwise).
CONSENT_RECENT_LOGIN_SECONDS = env_int("CONSENT_RECENT_LOGIN_SECONDS", 10 * 60)
# Sandbox clients are served only where every card is a test card (the demo and the tests).
FIRMS_SANDBOX = env_bool("FIRMS_SANDBOX", not PRODUCTION)
# Requests per minute a firm may make to the resource API and to the token endpoint.
CONSENT_API_RATE_PER_MINUTE = env_int("CONSENT_API_RATE_PER_MINUTE", 600)

# Firms' applications on /developers/ (portal.firms): submissions per address per hour, and wrong manage
# links per address per ten minutes, before a 429.
FIRMS_APPLY_RATE_PER_HOUR = env_int("FIRMS_APPLY_RATE_PER_HOUR", 20)
FIRMS_MANAGE_MISSES_PER_10_MINUTES = env_int("FIRMS_MANAGE_MISSES_PER_10_MINUTES", 30)

# Notifications (portal.notify): Web Push with VAPID (RFC 8292) and e-mail, neither with any content.
# The VAPID key is a P-256 private key (PEM); the demo and tests make one when it is missing.
VAPID_PRIVATE_KEY_FILE = env_str("VAPID_PRIVATE_KEY_FILE", str(VAR_DIR / "keys" / "vapid.pem"))
VAPID_SUBJECT = env_str("VAPID_SUBJECT", None if PRODUCTION else "mailto:portal-admin@myna-portal.example")
if not VAPID_SUBJECT.startswith(("mailto:", "https://")):
    raise ImproperlyConfigured("VAPID_SUBJECT must be a mailto: (or https:) address push services can reach.")
# Push endpoints are accepted only on these hosts (and their subdomains): the browsers' push services.
# Local push services (the tests', the benchmark's) are allowed outside production.
WEBPUSH_ENDPOINT_HOSTS = env_list(
    "WEBPUSH_ENDPOINT_HOSTS",
    [
        "fcm.googleapis.com",
        "push.services.mozilla.com",
        "notify.windows.com",
        "push.apple.com",
        *([] if PRODUCTION else ["127.0.0.1", "localhost"]),
    ],
)
# A CA bundle to trust for push services instead of the system's (a local push service in tests).
WEBPUSH_CA_BUNDLE = env_str("WEBPUSH_CA_BUNDLE", "")
WEBPUSH_TIMEOUT_SECONDS = float(env_str("WEBPUSH_TIMEOUT_SECONDS", "10"))
# How long a push service keeps a message for a device that is offline.
WEBPUSH_TTL_SECONDS = env_int("WEBPUSH_TTL_SECONDS", 24 * 60 * 60)
NOTIFY_EMAIL_CONFIRM_MAX_AGE = env_int("NOTIFY_EMAIL_CONFIRM_MAX_AGE_SECONDS", 24 * 60 * 60)
# E-mail through Django's mailers: SMTP in production or when EMAIL_HOST is set; otherwise (the demo)
# each mail is written to a file under var/mail.
_email_host = env_str("EMAIL_HOST", "localhost" if PRODUCTION else "")
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": _email_host,
            "port": env_int("EMAIL_PORT", 25),
            "username": env_str("EMAIL_HOST_USER", ""),
            "password": env_str("EMAIL_HOST_PASSWORD", ""),
            "use_tls": env_bool("EMAIL_USE_TLS", default=False),
            "timeout": env_int("EMAIL_TIMEOUT_SECONDS", 10),
        },
    }
    if _email_host
    else {
        "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "OPTIONS": {"file_path": str(VAR_DIR / "mail")},
    }
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Myna Portal <no-reply@myna-portal.example>")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # httpx logs every request's URL at INFO: an agency's URL names the resident by its code, and a
        # fetch worker would write a line per fetch (bench/README.md, issue 4). Failures are logged by the
        # portal's clients, without the code.
        "httpx": {"level": "WARNING"},
    },
}
