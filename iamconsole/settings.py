"""IAM Console settings: one file, configured by environment variables.

Every variable is documented in README.md ("Configuration"). The defaults give the
local, single-machine setup of `make run`: SQLite, the embedded moto backend and,
when no Redis answers, kombu's filesystem transport.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from csp.constants import NONE, SELF

from iamconsole.security_headers import add_static_headers

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Where this install keeps its state: the SQLite database, the generated secret key,
# the embedded backend's snapshot (which holds IAM secrets) and local queues.
# Outside the repository on purpose.
STATE_DIR = Path(os.environ.get("IAMCONSOLE_STATE_DIR") or Path.home() / ".local" / "state" / "iam-console")


def envsecret(name: str) -> str:
    """A secret from NAME, from the file named by NAME_FILE, or generated once per install."""
    if os.environ.get(name):
        return os.environ[name]
    if os.environ.get(f"{name}_FILE"):
        return Path(os.environ[f"{name}_FILE"]).read_text().strip()
    path = STATE_DIR / name.lower()
    if not path.exists():
        STATE_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(64))
    return path.read_text().strip()


SECRET_KEY = envsecret("SECRET_KEY")
DEBUG = envbool("DEBUG")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "formtools",
    "crispy_forms",
    "crispy_bootstrap5",
    "bootstrap",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "users",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Outside CSRF, so that a CSRF failure's 403 is audited too.
    "users.middleware.RefusalAuditMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "users.middleware.OperatorMfaMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "iamconsole.sessions.SessionLifetimeMiddleware",
    "users.oidc.recheck.OidcRecheckMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "users.middleware.IamUnavailableMiddleware",
    "iamconsole.cache_outage.StoreUnavailableMiddleware",
    # Axes wants to be last.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "iamconsole.urls"
WSGI_APPLICATION = "iamconsole.wsgi.application"

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
                "users.context_processors.console",
                "users.views.job_notices.job_notices",
                "iamconsole.cache_outage.notice",  # after the processors that read the cache
            ],
        },
    },
]

# Connections are kept (and checked before reuse): a Celery worker would otherwise open a new
# PostgreSQL connection, a new server process, for every user of a job.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{STATE_DIR / 'db.sqlite3'}",
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Operators: login, lockout, sessions -------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, refusing passwords when LOCAL_SIGN_IN is off (users/oidc/backend.py).
    "users.oidc.backend.PasswordBackend",
    # Sign-in at the identity provider (OpenID Connect), when OIDC_ISSUER is set.
    "users.oidc.backend.OidcBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "users:list"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Lockout (iamconsole/lockout.py): a user name from one address after 5 failed sign-ins, for
# 15 minutes; the user name from every address after 50 failures within an hour, so that one
# address cannot lock an operator out everywhere and no account gets over 50 guesses an hour.
AXES_HANDLER = "iamconsole.lockout.ConsoleLockoutHandler"
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FAILURE_LIMIT = envint("AXES_USERNAME_FAILURE_LIMIT", 50)
AXES_USERNAME_FAILURE_WINDOW = timedelta(hours=1)
# The user-name count reads axes' failure log; refused attempts while locked are not logged.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
# Proxies in front of the console that append the client's address to X-Forwarded-For (0: none,
# REMOTE_ADDR is the client). Behind a proxy, set it, or everyone shares the proxy's address.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "iamconsole.lockout.client_address"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# Sessions end after 30 idle minutes, and 12 hours after sign-in whatever happens
# (ASVS L2; iamconsole/sessions.py).
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 30 * 60)
SESSION_ABSOLUTE_SECONDS = envint("SESSION_ABSOLUTE_SECONDS", 12 * 60 * 60)
# The idle expiry is renewed at most this often, not on every request (iamconsole/sessions.py).
SESSION_TOUCH_SECONDS = envint("SESSION_TOUCH_SECONDS", 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# No script reads the CSRF cookie (forms carry the token).
CSRF_COOKIE_HTTPONLY = True
# Its 403 in the console's frame, as the other error pages (iamconsole/urls.py).
CSRF_FAILURE_VIEW = "iamconsole.error_pages.csrf_failure"

# Operators may sign in at the company's identity provider with OpenID Connect (users/oidc/):
# off while OIDC_ISSUER is empty. The endpoints come from the issuer's discovery document; the
# console role from the groups claim, read again at every sign-in (no mapped group: no access).
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").strip()
OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "").strip()
OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET") or (
    Path(os.environ["OIDC_CLIENT_SECRET_FILE"]).read_text().strip() if os.environ.get("OIDC_CLIENT_SECRET_FILE") else ""
)
OIDC_SCOPES = os.environ.get("OIDC_SCOPES") or "openid email profile"
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME") or "your identity provider"
OIDC_ALLOWED_EMAIL_DOMAINS = [d.lower() for d in envlist("OIDC_ALLOWED_EMAIL_DOMAINS", "")]
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM") or "groups"
OIDC_OPERATOR_GROUPS = envlist("OIDC_OPERATOR_GROUPS", "")
OIDC_VIEWER_GROUPS = envlist("OIDC_VIEWER_GROUPS", "")
# The ID token's amr values, or acr values, that count as MFA done at the identity provider;
# empty: the console's own OTP step applies to every operator.
OIDC_MFA_AMR = envlist("OIDC_MFA_AMR", "")
OIDC_MFA_ACR = envlist("OIDC_MFA_ACR", "")
# An identity-provider session is confirmed there again (prompt=none) once its last confirmation
# is this many seconds old, so that an operator disabled at the IdP loses access; 0: never.
OIDC_RECHECK_SECONDS = envint("OIDC_RECHECK_SECONDS", 900)
# The user-name-and-password form; with OIDC on, false leaves only the identity provider.
LOCAL_SIGN_IN = envbool("LOCAL_SIGN_IN", True)
if OIDC_ISSUER and not OIDC_CLIENT_ID:
    raise ValueError("OIDC_ISSUER is set: set OIDC_CLIENT_ID too")
if not LOCAL_SIGN_IN and not OIDC_ISSUER:
    raise ValueError("LOCAL_SIGN_IN=false needs OIDC_ISSUER: nobody could sign in")

# --- Transport security: on when the console is served over HTTPS -------------------------

HTTPS = envbool("HTTPS")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
if HTTPS:
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Asks browsers' preload lists for HTTPS-only on the whole domain: set false unless you own it.
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", True)
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
if envbool("TRUST_X_FORWARDED_PROTO"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        # Bootstrap draws checkboxes and select arrows with data: SVGs.
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

# --- Static files: served by WhiteNoise, Bootstrap from the django-bootstrap-static package -

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# WhiteNoise answers before the CSP and X-Frame-Options middleware: it sets them itself.
WHITENOISE_ADD_HEADERS_FUNCTION = add_static_headers

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Redis, Celery and the cache -----------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL", "")

# Without Redis, kombu's filesystem transport queues tasks in the state directory: good
# for one machine (make run), not for production (no redelivery after a crash).
QUEUE_DIR = STATE_DIR / "queue"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "filesystem://localhost/"
if CELERY_BROKER_URL.startswith("filesystem://"):
    QUEUE_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(QUEUE_DIR),
        "data_folder_out": str(QUEUE_DIR),
        "control_folder": str(QUEUE_DIR / "control"),
        "store_processed": False,
    }
else:
    # Above the longest task and its retry backoff (RELIABILITY.md §2.6), in each place Celery
    # reads it (the shortest wins).
    CELERY_VISIBILITY_TIMEOUT = envint("CELERY_VISIBILITY_TIMEOUT", 3600)
    # A Redis that stops answering without closing its connections (failover, a half-open
    # connection) is noticed within seconds, rather than never (socket_timeout) or in ~51 s.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        "socket_connect_timeout": 3,
        "socket_timeout": 5,  # above BRPOP's 1 s wait
        "health_check_interval": 10,
    }
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        # kombu's transport with the fix for a Redis outage (iamconsole/redis_transport.py).
        CELERY_BROKER_TRANSPORT = "iamconsole.redis_transport:Transport"
# A worker rides out a broker outage: it reconnects (at start too) for as long as it takes.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Worker processes: one per core (`celery worker --concurrency` overrides it). Each runs a job's
# items JOB_ITEM_THREADS at a time, in threads (IAM calls wait on the network: 8 in flight per
# process hide a 50 ms round trip), from messages of JOB_CHUNK_SIZE items (users/tasks.py; see
# docs/PERFORMANCE.md).
CELERY_WORKER_CONCURRENCY = envint("CELERY_WORKER_CONCURRENCY", 2)
JOB_ITEM_THREADS = envint("JOB_ITEM_THREADS", 8)
# The workers' CPU priority below the web server's (a nice increment, 0-19): where both share a
# machine, pages first (iamconsole/celery.py).
WORKER_NICE = envint("WORKER_NICE", 10)
JOB_CHUNK_SIZE = envint("JOB_CHUNK_SIZE", 25)
# On a warm shutdown, running tasks get this long to finish before they are requeued.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = 10.0
# Jobs (users/jobs.py, users/tasks.py): a RUNNING item whose heartbeat is older than
# JOB_ITEM_STALE_SECONDS lost its worker; the sweeper looks every JOB_SWEEP_SECONDS.
JOB_ITEM_STALE_SECONDS = envint("JOB_ITEM_STALE_SECONDS", 6 * 60)
JOB_SWEEP_SECONDS = envint("JOB_SWEEP_SECONDS", 60)
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fixup closes the database connection around every task unless this is set;
# users/tasks.py closes it as Django does around a request instead (CONN_MAX_AGE, health
# checks), and the fixup's own recycling every 1,000 tasks is only a backstop.
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

if REDIS_URL:
    # Short timeouts: while Redis does not answer, pages read IAM without the cache and the
    # secret store says it is unavailable (iamconsole/cache_outage.py), within about a second.
    CACHES = {
        "default": {
            "BACKEND": "iamconsole.redis_cache.ReusingRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(STATE_DIR / "cache"),
        }
    }

# The one-time credentials store (users/credentials.py) keeps new passwords and secret
# access keys in the cache, Fernet-encrypted under keys derived from these secrets, which
# never go to the cache or the database. The first key encrypts; CREDENTIALS_KEY_FALLBACKS
# (comma-separated, the old keys) stay readable during a rotation. Web and worker must share
# CREDENTIALS_KEY: on several machines or containers, set it rather than letting each
# generate its own.
CREDENTIALS_KEYS = [envsecret("CREDENTIALS_KEY"), *envlist("CREDENTIALS_KEY_FALLBACKS", "")]
CREDENTIALS_TTL = 15 * 60

# --- The IAM backend -----------------------------------------------------------------------

# embedded: the console's own moto server (make run starts it); endpoint: any IAM endpoint
# (LocalStack, an external moto server); aws: real AWS through the normal credential chain.
IAM_BACKEND = os.environ.get("IAM_BACKEND", "embedded")
EMBEDDED_IAM_PORT = envint("EMBEDDED_IAM_PORT", 8001)
EMBEDDED_IAM_SNAPSHOT = Path(os.environ.get("EMBEDDED_IAM_SNAPSHOT") or STATE_DIR / "embedded-iam.pickle")
IAM_ENDPOINT_URL: str | None
if IAM_BACKEND == "embedded":
    IAM_ENDPOINT_URL = f"http://127.0.0.1:{EMBEDDED_IAM_PORT}"
elif IAM_BACKEND == "endpoint":
    IAM_ENDPOINT_URL = os.environ["IAM_ENDPOINT_URL"]
elif IAM_BACKEND == "aws":
    IAM_ENDPOINT_URL = None
else:
    raise ValueError(f"IAM_BACKEND must be embedded, endpoint or aws, not {IAM_BACKEND!r}")
# Operator MFA (django-otp): `required` sends every operator without a device to enrolment;
# with `optional`, only operators who enrolled must pass the OTP step. Required against AWS.
OPERATOR_MFA = os.environ.get("OPERATOR_MFA") or ("required" if IAM_BACKEND == "aws" else "optional")
if OPERATOR_MFA not in {"required", "optional"}:
    raise ValueError(f"OPERATOR_MFA must be required or optional, not {OPERATOR_MFA!r}")
OTP_TOTP_ISSUER = "IAM Console"
# Read-only: no operator may change IAM (they are viewers for changes), and the gateway refuses
# every mutating call, workers included. For a console that must only look at an account.
IAM_READ_ONLY = envbool("IAM_READ_ONLY", False)
# The access-key hygiene page (users/hygiene/): keys older than this many days, or unused for
# this long, are stale; the page may look at another number with ?days=.
ACCESS_KEY_MAX_AGE_DAYS = envint("ACCESS_KEY_MAX_AGE_DAYS", 90)
if not 1 <= ACCESS_KEY_MAX_AGE_DAYS <= 3650:
    raise ValueError(f"ACCESS_KEY_MAX_AGE_DAYS must be 1 to 3650, not {ACCESS_KEY_MAX_AGE_DAYS}")
# None: the region of AWS_PROFILE's profile, else us-east-1 (users/iam/aws_session.py).
AWS_REGION = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
IAM_MAX_ATTEMPTS = envint("IAM_MAX_ATTEMPTS", 6)
IAM_CONNECT_TIMEOUT = envint("IAM_CONNECT_TIMEOUT", 5)
IAM_READ_TIMEOUT = envint("IAM_READ_TIMEOUT", 30)
# Job workers share one limit on their IAM requests through Redis (users/iam/rate_limit.py). It
# starts at IAM_RATE_LIMIT requests/s, is cut by a fifth on each round of Throttling answers and
# rises again by 1 request/s per second of calls without them, between IAM_RATE_LIMIT_FLOOR and
# IAM_RATE_LIMIT. 0 (or no REDIS_URL): no limit. The default is far above the rate IAM allows an
# account, so it does not slow the embedded backend; one near IAM's spares the first job the
# Throttling answers that find it.
IAM_RATE_LIMIT = float(os.environ.get("IAM_RATE_LIMIT") or 500)
IAM_RATE_LIMIT_FLOOR = float(os.environ.get("IAM_RATE_LIMIT_FLOOR") or 1)
if IAM_RATE_LIMIT and not 0 < IAM_RATE_LIMIT_FLOOR <= IAM_RATE_LIMIT:
    raise ValueError(f"IAM_RATE_LIMIT_FLOOR must be > 0 and <= IAM_RATE_LIMIT, not {IAM_RATE_LIMIT_FLOOR}")
# Work in another account: the credential chain's identity assumes this role through STS and
# every IAM call uses the role's temporary credentials, renewed before they expire.
IAM_ASSUME_ROLE_ARN = os.environ.get("IAM_ASSUME_ROLE_ARN") or None
IAM_ASSUME_ROLE_EXTERNAL_ID = os.environ.get("IAM_ASSUME_ROLE_EXTERNAL_ID") or None
IAM_ASSUME_ROLE_SESSION_NAME = os.environ.get("IAM_ASSUME_ROLE_SESSION_NAME") or "iam-console"
# botocore renews them 15 minutes before they expire: under 30 minutes, it would assume the
# role again before nearly every call. 12 hours is STS's maximum (the role's own may be less).
IAM_ASSUME_ROLE_DURATION = envint("IAM_ASSUME_ROLE_DURATION", 3600)
if not 1800 <= IAM_ASSUME_ROLE_DURATION <= 43200:
    raise ValueError(f"IAM_ASSUME_ROLE_DURATION must be 1800 to 43200 seconds, not {IAM_ASSUME_ROLE_DURATION}")

# --- Logging: nothing below INFO from the AWS SDK, which logs request bodies at DEBUG ------

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "iamconsole.log_redaction.RedactSecrets"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        name: {"level": "INFO" if LOG_LEVEL == "DEBUG" else LOG_LEVEL}
        for name in ("botocore", "boto3", "urllib3", "s3transfer")
    },
}
