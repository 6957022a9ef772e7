"""Canyu's settings. Every value comes from the environment; see docs/settings.md."""

from __future__ import annotations

import os
import sys
import zoneinfo
from pathlib import Path

import dj_database_url

from canyu.lib.env import (
    SettingError,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_str,
    read_or_create_key,
)

BASE_DIR = Path(__file__).resolve().parent


def _fail(exc: SettingError) -> None:
    sys.stderr.write(f"canyu: configuration error: {exc}\n")
    raise SystemExit(2)


try:
    DEBUG = env_bool("CANYU_DEBUG", False)
    DATA_DIR = Path(env_str("CANYU_DATA_DIR", str(Path.cwd() / "var"))).resolve()
    SECRET_KEY = env_str("CANYU_SECRET_KEY", "")
    CREDENTIALS_KEY = env_str("CANYU_CREDENTIALS_KEY", "")
    CREDENTIALS_OLD_KEYS = env_list("CANYU_CREDENTIALS_OLD_KEYS", [])
    ALLOWED_HOSTS = env_list(
        "CANYU_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"]
    )
    DATABASE_URL = env_str("DATABASE_URL", "")
    DB_CONN_MAX_AGE = env_int("CANYU_DB_CONN_MAX_AGE", 600, minimum=0)
    INTAKE_MAX_BODY_BYTES = env_int("CANYU_INTAKE_MAX_BODY_BYTES", 8 * 1024 * 1024, minimum=1024)
    INTAKE_MAX_EVENTS = env_int("CANYU_INTAKE_MAX_EVENTS", 1000, minimum=1, maximum=10000)
    # Django refuses a body above this with a bare 400 before the intake can answer 413:
    # it must admit every body the intake takes.
    DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, INTAKE_MAX_BODY_BYTES)
    INTAKE_PROCESS_INLINE = env_bool("CANYU_INTAKE_PROCESS_INLINE", False)
    PIPELINE_BATCH_SIZE = env_int("CANYU_PIPELINE_BATCH_SIZE", 1000, minimum=1, maximum=10000)
    INTAKE_GATHER_MS = env_int("CANYU_INTAKE_GATHER_MS", 200, minimum=0, maximum=60000)
    WEBHOOK_REPLAY_WINDOW = env_int("CANYU_WEBHOOK_REPLAY_WINDOW", 300, minimum=1)
    DELIVERY_MAX_ATTEMPTS = env_int("CANYU_DELIVERY_MAX_ATTEMPTS", 6, minimum=1, maximum=50)
    DELIVERY_TIMEOUT = env_int("CANYU_DELIVERY_TIMEOUT", 10, minimum=1, maximum=120)
    TIME_ZONE = env_str("CANYU_TIME_ZONE", "Asia/Shanghai")
    try:
        zoneinfo.ZoneInfo(TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SettingError(
            f"CANYU_TIME_ZONE={TIME_ZONE!r} is not a time zone (e.g. Asia/Shanghai)"
        ) from None
    LANGUAGE_CODE = env_choice("CANYU_LANGUAGE", "zh-hans", {"zh-hans", "en"})
    LOG_LEVEL = env_choice("CANYU_LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR"})
    # E-mail of notifications (docs/settings.md). Console: printed by the worker (demo).
    _email_backend = env_choice(
        "CANYU_EMAIL_BACKEND", "console", {"console", "smtp", "locmem", "dummy"}
    )
    _email_host = env_str("CANYU_EMAIL_HOST", "localhost")
    _email_port = env_int("CANYU_EMAIL_PORT", 25, minimum=1, maximum=65535)
    _email_user = env_str("CANYU_EMAIL_USER", "")
    _email_password = env_str("CANYU_EMAIL_PASSWORD", "")
    _email_security = env_choice("CANYU_EMAIL_SECURITY", "none", {"none", "starttls", "tls"})
    _email_timeout = env_int("CANYU_EMAIL_TIMEOUT", 10, minimum=1, maximum=120)
    DEFAULT_FROM_EMAIL = env_str("CANYU_EMAIL_FROM", "Canyu <canyu@localhost>")
    SITE_URL = env_str("CANYU_SITE_URL", "")
    if SITE_URL and not SITE_URL.startswith(("http://", "https://")):
        raise SettingError(f"CANYU_SITE_URL={SITE_URL!r} must start with http:// or https://")
    if "@" not in DEFAULT_FROM_EMAIL:
        raise SettingError(f"CANYU_EMAIL_FROM={DEFAULT_FROM_EMAIL!r} is not an e-mail address")
except SettingError as exc:  # pragma: no cover - exercised through a subprocess test
    _fail(exc)

try:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
except OSError as exc:
    _fail(SettingError(f"CANYU_DATA_DIR={str(DATA_DIR)!r} cannot be created: {exc}"))

if not SECRET_KEY:
    if not DEBUG and env_bool("CANYU_REQUIRE_SECRET_KEY", False):
        _fail(SettingError("CANYU_SECRET_KEY must be set in production"))
    # A random key made once and kept in the data directory (readable by its owner only),
    # so sessions survive restarts and the key that encrypts channel credentials (derived
    # from this one unless CANYU_CREDENTIALS_KEY is set) cannot be guessed.
    try:
        SECRET_KEY = read_or_create_key(DATA_DIR / "secret_key")
    except OSError as exc:
        _fail(SettingError(f"CANYU_SECRET_KEY is not set and {DATA_DIR}/secret_key: {exc}"))
    # Credentials stored by earlier versions under the path-derived development key stay
    # readable (and are re-encrypted under the new key when saved).
    CREDENTIALS_OLD_KEYS = [*CREDENTIALS_OLD_KEYS, f"canyu-insecure-development-key-{DATA_DIR}"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks_db",
    "django_htmx",
    "canyu.core",
    "canyu.accounts",
    "canyu.connectors",
    "canyu.inbox",
    "canyu.sla",
    "canyu.routing",
    "canyu.notifications",
    "canyu.feedback",
    "canyu.demo",
    "canyu.text",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "canyu.accounts.middleware.ProfileLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "canyu.urls"
WSGI_APPLICATION = "canyu.wsgi.application"

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

if DATABASE_URL:
    if not DATABASE_URL.startswith(("postgres://", "postgresql://", "sqlite://")):
        _fail(SettingError("DATABASE_URL must start with postgres://, postgresql:// or sqlite://"))
    try:
        _db = dj_database_url.parse(DATABASE_URL, conn_max_age=DB_CONN_MAX_AGE)
    except Exception as exc:  # dj-database-url raises plain exceptions for bad URLs
        _fail(SettingError(f"DATABASE_URL cannot be parsed: {exc}"))
    if _db["ENGINE"] == "django.db.backends.postgresql":
        _db["CONN_HEALTH_CHECKS"] = True
        # One database per test run (process id), so parallel runs never collide.
        _test_db = env_str("CANYU_TEST_DATABASE", f"test_canyu_{os.getpid()}")
        _db.setdefault("TEST", {})["NAME"] = _test_db
else:
    _db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "canyu.sqlite3",
    }

if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db["CONN_MAX_AGE"] = DB_CONN_MAX_AGE
    # Tests use a file, not memory, so a second process (a worker, a browser's server) sees it.
    # One file per test run (process id), so parallel runs never share a database.
    _db["TEST"] = {"NAME": str(DATA_DIR / f"test-canyu-{os.getpid()}.sqlite3")}
    _db["OPTIONS"] = {
        # IMMEDIATE: a writer takes the lock at BEGIN, so two processes never
        # deadlock upgrading a read lock; busy_timeout waits instead of failing.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
            "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=20000; "
            # 64 MiB of page cache per connection (default 2 MiB): the indexes the
            # pipeline updates stay in memory as the database grows.
            "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;"
        ),
    }

DATABASES = {"default": _db}

MAILERS = {
    "default": {
        "BACKEND": f"django.core.mail.backends.{_email_backend}.EmailBackend",
        "OPTIONS": (
            {
                "host": _email_host,
                "port": _email_port,
                "username": _email_user,
                "password": _email_password,
                "use_tls": _email_security == "starttls",
                "use_ssl": _email_security == "tls",
                "timeout": _email_timeout,
            }
            if _email_backend == "smtp"
            else {}
        ),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "intake", "delivery"],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "inbox:index"
LOGOUT_REDIRECT_URL = "accounts:login"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "canyu": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django_tasks_db": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
