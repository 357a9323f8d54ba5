"""Colloquy settings: one file, driven by environment variables.

Every knob is read through a small typed helper that fails loudly on a bad value, so a
misconfigured deployment stops at start-up instead of misbehaving later.
"""

import json
import os
import tomllib
import warnings
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    value = os.getenv(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def envint(name: str, default: str) -> int:
    value = os.getenv(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def envrate(name: str, default: str) -> str:
    """A DRF throttle rate such as "100/hour"."""
    value = os.getenv(name, default).strip()
    number, _, period = value.partition("/")
    if not number.isdigit() or period not in ("second", "minute", "hour", "day"):
        raise ImproperlyConfigured(f"{name} must look like 100/hour (second, minute, hour, day)")
    return value


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


def envjson(name: str, default: str) -> dict:
    value = os.getenv(name, default)
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"{name} must be a JSON object: {exc}") from None
    if not isinstance(parsed, dict):
        raise ImproperlyConfigured(f"{name} must be a JSON object, not {value!r}")
    return parsed


DEBUG = envbool("DEBUG", "0")

# Never a literal fallback. Without a key and with DEBUG off, SECRET_KEY stays empty: commands
# that sign nothing (migrate, makemigrations --check, check) still run, while the WSGI/ASGI
# application refuses to start ("The SECRET_KEY setting must not be empty").
SECRET_KEY = os.getenv("SECRET_KEY", "")
if not SECRET_KEY and DEBUG:
    # A development server without a key gets a throwaway one: sessions end when it restarts.
    from django.core.management.utils import get_random_secret_key

    SECRET_KEY = get_random_secret_key()

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_countries",
    "django_htmx",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "studies",
    "surveys",
    "coding",
    "exports",
]

MIDDLEWARE = [
    # First, so that every later log line (and the access line) carries the request's id.
    "studies.logs.RequestIdMiddleware",
    # Before anything reads a parameter into a query: PostgreSQL fails on a NUL in text.
    "studies.nul.RefuseNulMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "studies.audit.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

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
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.getenv("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        # Reusing connections saves a PostgreSQL handshake on every request.
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", "60"),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the server read while an import writes; busy_timeout waits instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "studies:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = os.getenv("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    # Uploaded media (recordings): local files under MEDIA_ROOT unless a deployment names another
    # backend, e.g. COLLOQUY_MEDIA_STORAGE=storages.backends.s3.S3Storage with its OPTIONS as JSON.
    "default": {
        "BACKEND": os.getenv(
            "COLLOQUY_MEDIA_STORAGE", "django.core.files.storage.FileSystemStorage"
        ),
        "OPTIONS": envjson("COLLOQUY_MEDIA_STORAGE_OPTIONS", "{}"),
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Tests and `make run` serve static files straight from the app folders, so STATIC_ROOT may not
# exist yet (before collectstatic); WhiteNoise's warning about that is noise there.
WHITENOISE_USE_FINDERS = True
warnings.filterwarnings("ignore", message="No directory at")
WHITENOISE_AUTOREFRESH = DEBUG

# Uploads: the largest file an import accepts, and Django's in-memory limit to match.
COLLOQUY_MAX_UPLOAD_BYTES = envint("COLLOQUY_MAX_UPLOAD_MB", "20") * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = COLLOQUY_MAX_UPLOAD_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = COLLOQUY_MAX_UPLOAD_BYTES + 1024 * 1024
# The pseudonymisation review posts two fields per finding (replace?, replacement), and a batch
# of long transcripts can hold thousands of findings; Django's default stops at 1,000 fields.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 20_000

# Recordings (a transcript's audio or video): the largest accepted. An upload larger than
# FILE_UPLOAD_MAX_MEMORY_SIZE is streamed to a temporary file (in FILE_UPLOAD_TEMP_DIR, or the
# system's), never held in memory. There is deliberately no MEDIA_URL: media is never served as
# public files, only by the app's views to the study's members.
COLLOQUY_MAX_RECORDING_BYTES = envint("COLLOQUY_MAX_RECORDING_MB", "500") * 1024 * 1024
MEDIA_ROOT = Path(os.getenv("MEDIA_ROOT", str(BASE_DIR / "media")))
FILE_UPLOAD_TEMP_DIR = os.getenv("FILE_UPLOAD_TEMP_DIR") or None

# spaCy: trained pipelines to use per language when installed, e.g. {"en": "en_core_web_sm"}.
COLLOQUY_SPACY_MODELS = envjson("COLLOQUY_SPACY_MODELS", "{}")
# Web workers start without pandas, matplotlib, scipy and spaCy (the first request that needs one
# loads it). With this on, config.preload loads them in a background thread once a worker has
# started: the first table or transcript is quick, and every worker holds them in memory.
COLLOQUY_PRELOAD = envbool("COLLOQUY_PRELOAD", "0")

# Machine-assisted coding with a large language model: an OpenAI-compatible endpoint (a local
# Ollama, vLLM or llama.cpp server keeps the data on campus), e.g. http://127.0.0.1:11434/v1.
# Empty: the LLM engine is off. Each study's owners must also turn LLM suggestions on.
COLLOQUY_LLM_BASE_URL = os.getenv("COLLOQUY_LLM_BASE_URL", "").strip().rstrip("/")
COLLOQUY_LLM_MODEL = os.getenv("COLLOQUY_LLM_MODEL", "").strip()
COLLOQUY_LLM_API_KEY = os.getenv("COLLOQUY_LLM_API_KEY", "")
COLLOQUY_LLM_TIMEOUT = envint("COLLOQUY_LLM_TIMEOUT", "60")  # seconds per call
COLLOQUY_LLM_BATCH = envint("COLLOQUY_LLM_BATCH", "40")  # sentences per call
if COLLOQUY_LLM_BASE_URL and not COLLOQUY_LLM_BASE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(
        f"COLLOQUY_LLM_BASE_URL must start with http:// or https://, not {COLLOQUY_LLM_BASE_URL!r}"
    )
if COLLOQUY_LLM_TIMEOUT < 1 or COLLOQUY_LLM_BATCH < 1:
    raise ImproperlyConfigured("COLLOQUY_LLM_TIMEOUT and COLLOQUY_LLM_BATCH must be at least 1")

# Background jobs (studies.jobs) through the django-tasks API. By default a job runs at once in
# the request that starts it, so a laptop install needs nothing more. A server sets
# COLLOQUY_TASKS=database: jobs then wait in the database until `manage.py db_worker` (on this
# host or another sharing the database and the media storage) picks them up.
COLLOQUY_TASKS = os.getenv("COLLOQUY_TASKS", "immediate").strip().lower()
_TASK_BACKENDS = {
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
    "database": "django_tasks_db.DatabaseBackend",
}
if COLLOQUY_TASKS not in _TASK_BACKENDS:
    raise ImproperlyConfigured(
        f"COLLOQUY_TASKS must be one of {', '.join(_TASK_BACKENDS)}, not {COLLOQUY_TASKS!r}"
    )
TASKS = {"default": {"BACKEND": _TASK_BACKENDS[COLLOQUY_TASKS]}}
# A running job that has reported nothing for this long is taken to have lost its worker.
COLLOQUY_JOB_STALL_MINUTES = envint("COLLOQUY_JOB_STALL_MINUTES", "30")
# The Reliability page computes a table of more (unit, code, coder) judgements than this as a
# job (about 2 s and 30 MB for 12 million on two cores); smaller tables on the page itself.
COLLOQUY_RELIABILITY_INLINE_DECISIONS = envint("COLLOQUY_RELIABILITY_INLINE_DECISIONS", "5000000")
# A job's file (a paper pack, an export) is kept this many days, then `manage.py cleanup`
# deletes it.
COLLOQUY_JOB_RESULT_DAYS = envint("COLLOQUY_JOB_RESULT_DAYS", "7")
# /health/ answers 503 when a job has waited longer than this for a worker (seconds): the
# workers are gone or cannot keep up.
COLLOQUY_HEALTH_QUEUE_MAX_WAIT = envint("COLLOQUY_HEALTH_QUEUE_MAX_WAIT", "600")
# `manage.py cleanup` deletes the task queue's finished results after this many days.
COLLOQUY_TASK_RESULT_DAYS = envint("COLLOQUY_TASK_RESULT_DAYS", "14")

# People. Anyone may create an account on a laptop install; a lab server switches sign-up off
# and lets owners invite instead (an invitation link still creates the invitee's account).
COLLOQUY_SIGNUP = envbool("COLLOQUY_SIGNUP", "1")
COLLOQUY_INVITATION_DAYS = envint("COLLOQUY_INVITATION_DAYS", "14")

# E-mail (invitations, password reset): printed on the server's console unless configured.
EMAIL_BACKEND = os.getenv("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.getenv("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", "25")
EMAIL_HOST_USER = os.getenv("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.getenv("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "0")
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", "0")
DEFAULT_FROM_EMAIL = os.getenv("DEFAULT_FROM_EMAIL", "Colloquy <colloquy@localhost>")

# HTTPS. A server behind TLS sets COLLOQUY_HTTPS=1: cookies travel only encrypted, plain HTTP
# is redirected to HTTPS (except the health check, which load balancers probe on plain HTTP
# inside the network), and browsers are told to use nothing but HTTPS for a year (HSTS).
COLLOQUY_HTTPS = envbool("COLLOQUY_HTTPS", "0")
_HTTPS = "1" if COLLOQUY_HTTPS else "0"
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", _HTTPS)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", _HTTPS)
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", _HTTPS)
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "31536000" if COLLOQUY_HTTPS else "0")
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", _HTTPS)
# Preloading commits the whole domain to HTTPS in browsers' built-in lists: the operator's call.
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "0")
# Behind a proxy that ends TLS (nginx, a load balancer), Django sees plain HTTP; the proxy says
# what the client used in X-Forwarded-Proto. Only turn this on when the proxy always sets (and
# overwrites) that header, otherwise a client could claim HTTPS.
if envbool("COLLOQUY_PROXY_SSL_HEADER", "0"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# A session lasts two weeks from login unless configured shorter (seconds); a shared computer in
# a lab can end sessions when the browser closes.
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", str(14 * 24 * 3600))
SESSION_EXPIRE_AT_BROWSER_CLOSE = envbool("SESSION_EXPIRE_AT_BROWSER_CLOSE", "0")
SESSION_SAVE_EVERY_REQUEST = False

# Content Security Policy (django-csp): scripts and style sheets come from this site only; no
# inline script anywhere (page scripts live in static/). A <style> element in a template carries
# the request's nonce. Style *attributes* stay allowed (style-src-attr) because their values are
# data: a code's colour chosen by its owner, a Likert segment's width, a codebook entry's depth.
# They cannot run script, and url() loads in them are still held to img-src.
# COLLOQUY_CSP_REPORT_ONLY=1 sends the policy as report-only, to try it on a new deployment.
_CSP = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
    }
}
if envbool("COLLOQUY_CSP_REPORT_ONLY", "0"):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _CSP
else:
    CONTENT_SECURITY_POLICY = _CSP

# Login throttling (django-axes): after AXES_FAILURE_LIMIT failed logins for one username from
# one address, that pair is locked out for AXES_COOLOFF_MINUTES (the login page, the admin and
# the API's token endpoint alike). A success clears the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", "5")
_AXES_COOLOFF_MINUTES = envint("AXES_COOLOFF_MINUTES", "15")
AXES_COOLOFF_TIME = timedelta(minutes=_AXES_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "studies.lockout.lockout_response"
# Behind COLLOQUY_PROXY_COUNT proxies the client's address is read from X-Forwarded-For;
# otherwise from the connection itself (a client could write any X-Forwarded-For).
COLLOQUY_PROXY_COUNT = envint("COLLOQUY_PROXY_COUNT", "0")
if COLLOQUY_PROXY_COUNT:
    AXES_IPWARE_PROXY_COUNT = COLLOQUY_PROXY_COUNT
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
# `manage.py cleanup` keeps the login history (who logged in, from which address and browser)
# this many days.
COLLOQUY_LOGIN_LOG_DAYS = envint("COLLOQUY_LOGIN_LOG_DAYS", "90")
if AXES_FAILURE_LIMIT < 1 or _AXES_COOLOFF_MINUTES < 1:
    raise ImproperlyConfigured("AXES_FAILURE_LIMIT and AXES_COOLOFF_MINUTES must be at least 1")

# Logs go to standard error, one line per record: LOG_FORMAT=json (one JSON object a line, for a
# log collector) or text. Every line carries the request's id (X-Request-ID), or "job-<id>" in a
# worker; each request also writes one access line at INFO under colloquy.request.
LOG_FORMAT = os.getenv("LOG_FORMAT", "text").strip().lower()
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}")
LOG_LEVEL = os.getenv("LOG_LEVEL", "WARNING").strip().upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request": {"()": "studies.logs.RequestContextFilter"}},
    "formatters": {
        "json": {"()": "studies.logs.JsonFormatter"},
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The access log and job logs are INFO: shown unless LOG_LEVEL asks for less.
        "colloquy": {"level": os.getenv("COLLOQUY_LOG_LEVEL", "INFO").strip().upper()},
    },
}

# API rate limits, per user (by account) and per anonymous client (by IP), e.g. "100/hour".
# The user default is far above what a person, the test suite or the benchmarks send (the coding
# benchmark posts 800 codings in a minute or so); it is there to stop a runaway script. Anonymous
# requests get through only to the token endpoint and the schema, so the anonymous limit is what
# slows password guessing.
API_USER_RATE = envrate("COLLOQUY_API_USER_RATE", "10000/hour")
API_ANON_RATE = envrate("COLLOQUY_API_ANON_RATE", "100/hour")

REST_FRAMEWORK = {
    # The token class comes first: its WWW-Authenticate header makes DRF answer 401 (not 403)
    # to a request without credentials or with a bad or revoked token.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "studies.tokens.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"anon": API_ANON_RATE, "user": API_USER_RATE},
    "EXCEPTION_HANDLER": "studies.tokens.exception_handler",
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["studies.nul.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Colloquy API",
    "DESCRIPTION": (
        "Studies, codings, memos, agreement and export tables of Colloquy. Authenticate with a "
        "personal token (`Authorization: Token clq_...`) from POST /api/v1/auth/token/ or the "
        "profile page, or with the browser session."
    ),
    "VERSION": tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["project"]["version"],
    "SERVE_INCLUDE_SCHEMA": False,
    # The documentation page's JavaScript and CSS come from drf-spectacular-sidecar: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a `kind`; name each choice set after its model so the schema is stable.
    "ENUM_NAME_OVERRIDES": {
        "DocumentKindEnum": "studies.models.Document.Kind",
        "VariableKindEnum": "studies.models.Variable.Kind",
        "PendingImportKindEnum": "studies.models.PendingImport.Kind",
    },
}
