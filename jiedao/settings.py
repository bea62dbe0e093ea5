"""Django settings for Jiedao, read from environment variables (see docs/operator-guide.md)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

from jiedao.env import (
    env_bool,
    env_choice,
    env_database_url,
    env_int,
    env_list,
    env_name,
    env_path,
    env_queue_url,
    env_str,
    private_data_dir,
)

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent

# Everything the platform writes (SQLite file, uploads, keys, backups) lives under DATA_DIR.
DATA_DIR = env_path("JIEDAO_DATA_DIR", PROJECT_DIR / "var")
# Whatever the platform writes is for its own user only: files 0600, directories 0700 (the SQLite
# file and its -wal/-shm, imports, backups, the keyring, media, logs). The umask covers every file
# created from now on; `private_data_dir` tightens what an older version left readable.
os.umask(0o077)
DATA_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
private_data_dir(DATA_DIR)

DEBUG = env_bool("JIEDAO_DEBUG", False)


def _secret_key() -> str:
    configured = env_str("JIEDAO_SECRET_KEY")
    if configured:
        return configured
    # A single-machine install keeps a generated key in the data directory, readable only by us.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("JIEDAO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("JIEDAO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "ninja",
    "jiedao.core",
    "jiedao.org",
    "jiedao.people",
    "jiedao.cases",
    "jiedao.insight",
    "jiedao.safety",
    "jiedao.welfare",
    "jiedao.petitions",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "jiedao.core.middleware.IdleSessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "jiedao.core.middleware.RequestContextMiddleware",
    "jiedao.core.middleware.SecurityHeadersMiddleware",
    # Refused characters in paths, query parameters and form bodies answer 400 before any view.
    "jiedao.core.middleware.TextBoundaryMiddleware",
    # Axes must come last: it needs the authenticated user and answers locked-out logins.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "jiedao.urls"
WSGI_APPLICATION = "jiedao.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "jiedao.context_processors.platform",
            ],
        },
    },
]

# --- database ---------------------------------------------------------------------------------
DATABASE_URL = env_database_url("JIEDAO_DATABASE_URL", f"sqlite:///{DATA_DIR / 'jiedao.sqlite3'}")
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("JIEDAO_DB_CONN_MAX_AGE", 60, minimum=0))
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["OPTIONS"] = {
        # WAL lets readers work while one writer commits; IMMEDIATE avoids lock-upgrade deadlocks.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            " PRAGMA busy_timeout=10000;"
            # 64 MB page cache per connection: imports insert into large random (blind-index) indexes.
            " PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;"
        ),
        "transaction_mode": "IMMEDIATE",
    }
    _db["CONN_MAX_AGE"] = 0 if DEBUG else _db.get("CONN_MAX_AGE", 0)
else:
    _db.setdefault("OPTIONS", {})
    # psycopg prepares a statement on the server once a connection has run it this many times —
    # only on cursors that bind parameters on the server, which Django's do not (client-side
    # binding, its default): in practice the fast path's intake statement
    # (jiedao.core.fastpath.prepared_cursor). A pooler that cannot keep prepared statements
    # (PgBouncer before 1.21 in transaction mode) would need None here.
    _db["OPTIONS"].setdefault("prepare_threshold", 2)
    _db["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache ------------------------------------------------------------------------------------
REDIS_URL = env_str("JIEDAO_REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- authentication ---------------------------------------------------------------------------
AUTH_USER_MODEL = "org.User"
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
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sessions end after this many idle minutes: a request pushes the expiry forward when it would
# move by a minute or more (jiedao.core.middleware.IdleSessionMiddleware), not on every request.
SESSION_COOKIE_AGE = env_int("JIEDAO_SESSION_IDLE_MINUTES", 30, minimum=1, maximum=24 * 60) * 60
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("JIEDAO_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Login throttling (django-axes): lock a username+address pair after repeated failures.
AXES_FAILURE_LIMIT = env_int("JIEDAO_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_int("JIEDAO_LOGIN_COOLOFF_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# --- internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- static and uploaded files ----------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# Front-end libraries come from the npm registry at install time (package.json) and are served
# from node_modules by the app itself: no CDN, nothing third-party committed.
NODE_MODULES = PROJECT_DIR / "node_modules"
STATICFILES_DIRS = [
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/echarts", NODE_MODULES / "echarts" / "dist"),
]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# A request's uploads above 2.5 MB are spooled here, not to the system /tmp: inside the private
# data directory (0700), encrypted under a key held only in memory (jiedao.core.uploads), deleted
# when the request ends; the hourly import sweep removes what a killed process left behind.
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "jiedao.core.uploads.SealedUploadHandler",
]
FILE_UPLOAD_TEMP_DIR = DATA_DIR / "tmp"
FILE_UPLOAD_TEMP_DIR.mkdir(exist_ok=True, mode=0o700)
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "media/"
BACKUP_DIR = DATA_DIR / "backups"

# --- logging: no personal data is ever logged; requests log only ids and paths -------------
LOG_LEVEL = env_choice("JIEDAO_LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR"])
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"axes": {"level": "WARNING"}},
}

# --- platform ---------------------------------------------------------------------------------
JIEDAO_SITE_NAME = env_str("JIEDAO_SITE_NAME", "网格化基层治理平台")
# `jiedao serve` replaces a worker after this many requests (0: never).
JIEDAO_MAX_REQUESTS = env_int("JIEDAO_MAX_REQUESTS", 5000, minimum=0)
JIEDAO_PAGE_SIZE = env_int("JIEDAO_PAGE_SIZE", 50, minimum=5, maximum=500)
# Background work: "thread" (in-process worker threads) or "eager" (run at once).
JIEDAO_TASKS = env_choice("JIEDAO_TASKS", "thread", ["thread", "eager"])
JIEDAO_TASK_THREADS = env_int("JIEDAO_TASK_THREADS", 2, minimum=1, maximum=16)
# Work on untrusted files (import validation) runs, without a queue, in a child process whose
# address space is capped at this many MB (jiedao.core.tasks.submit_isolated).
JIEDAO_TASK_MEMORY_MB = env_int("JIEDAO_TASK_MEMORY_MB", 2048, minimum=256, maximum=65536)
# A real queue (Celery on Redis), e.g. JIEDAO_QUEUE_URL=redis://127.0.0.1:6379/5. When set, background
# tasks and the periodic jobs go to the queue and `jiedao worker` runs them (jiedao.core.queue);
# when empty, everything runs in-process as above.
JIEDAO_QUEUE_URL = env_queue_url("JIEDAO_QUEUE_URL")
# The queue's name in Redis: lets several installations (or test runs) share one Redis database.
JIEDAO_QUEUE_NAME = env_name("JIEDAO_QUEUE_NAME", "jiedao")
# The rate formulas' weights are per sub-district (办件规则, jiedao.cases.models.CasePolicy), edited on
# a page, not set here: docs/figures.md.
# Personal-data keyring (SM4 data keys, SM3 blind-index keys); generated on first use.
JIEDAO_KEYRING = env_str("JIEDAO_KEYRING", str(DATA_DIR / "keys" / "keyring.json"))
# A second place for the signed audit checkpoints (besides $JIEDAO_DATA_DIR/audit/checkpoints.jsonl):
# a file path (another disk or a mounted share) or `syslog`; empty = none (jiedao.core.audit_checkpoints).
JIEDAO_AUDIT_CHECKPOINT_SINK = env_str("JIEDAO_AUDIT_CHECKPOINT_SINK", "")
# Import files (kept encrypted) are deleted this many hours after upload at the latest, whatever
# became of the job (jiedao.core.imports.import_retention, hourly).
JIEDAO_IMPORT_RETENTION_HOURS = env_int("JIEDAO_IMPORT_RETENTION_HOURS", 24, minimum=1, maximum=24 * 30)
# Export files (kept encrypted) are deleted this many hours after they were written
# (jiedao.core.exports.export_retention, every 15 minutes).
JIEDAO_EXPORT_RETENTION_HOURS = env_int("JIEDAO_EXPORT_RETENTION_HOURS", 24, minimum=1, maximum=24 * 7)
