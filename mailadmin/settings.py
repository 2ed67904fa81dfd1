"""Django settings for mailadmin, read from the environment (see ``.env.example``).

Nothing here has to be set for the quick start: SQLite, jobs run inline, and a mail base
path given by ``scripts/run.sh``. Production installs set at least ``SECRET_KEY``,
``ALLOWED_HOSTS``, ``DATABASE_URL`` and ``CELERY_BROKER_URL``.
"""

from __future__ import annotations

import re
import shutil
import zoneinfo
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

from mailadmin.env import Env

BASE_DIR = Path(__file__).resolve().parent.parent
env = Env()

# --- Core -----------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY", required=not DEBUG) or "insecure-development-key-only"
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("MAILADMIN_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "mailadmin",
    "accounts",
    "domains",
    "mailboxes",
    "aliases",
    "audit",
    "provisioning",
    "signup",
    "groupmail",
    "portal",
    "captcha",
    "mailstack",
    "expiry",
    "archives",
    "exports",
    "cli",
    "rest_framework",
    "drf_spectacular",
    "api",
    "activity",
    "diskusage",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files from MAILADMIN_STATIC_ROOT (after collectstatic), before anything else runs.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.ManagerSessionMiddleware",
    "accounts.middleware.TwoFactorRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Must stay last: it turns a locked-out login into the throttled response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mailadmin.urls"
WSGI_APPLICATION = "mailadmin.wsgi.application"

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
                "mailadmin.context_processors.navigation",
                "mailadmin.context_processors.undo",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# MySQL/MariaDB connections run without NO_ZERO_DATE/NO_ZERO_IN_DATE so that the legacy
# "never" date 0000-00-00 can be read and written (MySQL 8 enables both by default), and in
# strict mode so that an over-long value is an error instead of a silent truncation.
MYSQL_SQL_MODE = "STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"


def _database(url: str) -> dict:
    if not url:
        (BASE_DIR / "var").mkdir(exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "var" / "mailadmin.sqlite3",
            "OPTIONS": {"timeout": 20},
        }
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        env.errors.append(f"DATABASE_URL: {exc}")
        return _database("")
    engine = config.get("ENGINE", "")
    if engine.endswith("mysql"):
        config["OPTIONS"] = {
            "charset": "utf8mb4",
            "init_command": f"SET sql_mode='{MYSQL_SQL_MODE}'",
            "isolation_level": "read committed",
            **config.get("OPTIONS", {}),
        }
        config["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_general_ci"}
    elif not engine.endswith("sqlite3"):
        env.errors.append(
            f"DATABASE_URL: only mysql:// (MariaDB/MySQL) and sqlite:// are supported, got {engine}"
        )
    return config


DATABASES = {"default": _database(env.str("DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication and sessions -----------------------------------------------------------
AUTH_USER_MODEL = "accounts.Manager"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.ManagerBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "accounts:login"

SESSION_ENGINE = "accounts.sessions"
MAILADMIN_SESSION_IDLE_TIMEOUT = env.int("MAILADMIN_SESSION_IDLE_TIMEOUT", 3600, minimum=60)
MAILADMIN_SESSION_MAX_AGE = env.int("MAILADMIN_SESSION_MAX_AGE", 12 * 3600, minimum=300)
SESSION_COOKIE_AGE = MAILADMIN_SESSION_MAX_AGE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_COOKIES = env.bool("MAILADMIN_SECURE_COOKIES", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline script or style anywhere: every asset is a vendored or project static file.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SECURE_SSL_REDIRECT = env.bool("MAILADMIN_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env.int("MAILADMIN_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env.bool("MAILADMIN_HSTS_PRELOAD", False)
# Number of reverse proxies in front of the panel whose X-Forwarded-For / -Proto we trust.
MAILADMIN_PROXY_COUNT = env.int("MAILADMIN_PROXY_COUNT", 0, minimum=0, maximum=5)
if MAILADMIN_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Passwords of managers and mailboxes (mailadmin.lib.passwords); Django's own hashers are
# never used for the extmail tables.
MAILADMIN_PASSWORD_SCHEME = env.choice(
    "MAILADMIN_PASSWORD_SCHEME", "md5crypt", ("md5crypt", "sha512crypt", "sha256crypt")
)
MAILADMIN_PASSWORD_ROUNDS = env.int(
    "MAILADMIN_PASSWORD_ROUNDS", 5000, minimum=1000, maximum=999_999_999
)
MAILADMIN_PASSWORD_REHASH = env.bool("MAILADMIN_PASSWORD_REHASH", False)
MAILADMIN_PASSWORD_MIN_LENGTH = env.int("MAILADMIN_PASSWORD_MIN_LENGTH", 8, minimum=1, maximum=128)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "mailadmin.lib.passwords.StorablePasswordValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": MAILADMIN_PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
]

# Login throttling (django-axes): lock-outs per (account, client address) and per client
# address; an account's failures from all clients only ask for a captcha (accounts.throttle),
# so that nobody elsewhere can lock the real administrator out.
AXES_FAILURE_LIMIT = env.int("MAILADMIN_LOGIN_FAILURE_LIMIT", 5, minimum=1)
MAILADMIN_LOGIN_COOLOFF = env.int("MAILADMIN_LOGIN_COOLOFF", 900, minimum=1)
AXES_COOLOFF_TIME = MAILADMIN_LOGIN_COOLOFF / 3600  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
# A success does not wipe the client's failures: someone who owns one account must not be
# able to clear their counter between guesses at others' (they expire after the cool-off).
AXES_RESET_ON_SUCCESS = False
AXES_CLIENT_IP_CALLABLE = "mailadmin.lib.clientip.client_ip"
AXES_USERNAME_CALLABLE = "accounts.backends.login_username"
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = False

# Two-factor sign-in of managers (accounts/twofactor.py, docs/operations.md): who must use it
# ("" nobody: each manager may still enrol; "superadmins"; "all" managers), and how many wrong
# codes one sign-in may try before it starts again from the password (the account's wrong codes
# from all sign-ins together are limited too, per cool-off period).
MAILADMIN_2FA_REQUIRED = env.choice("MAILADMIN_2FA_REQUIRED", "", ("", "superadmins", "all"))
MAILADMIN_2FA_ATTEMPTS = env.int("MAILADMIN_2FA_ATTEMPTS", 5, minimum=1)
MAILADMIN_2FA_ISSUER = env.str("MAILADMIN_2FA_ISSUER", "mailadmin")
# The WebAuthn relying party id of security keys: empty for the host name the panel is reached
# at (keys registered under one name do not work under another).
MAILADMIN_WEBAUTHN_RP_ID = env.str("MAILADMIN_WEBAUTHN_RP_ID", "")

# --- Cache ----------------------------------------------------------------------------------
# Counters of the signup, portal login and password recovery rate limits. Without a Redis URL
# each web process keeps its own counters in memory (enough for one process; set the URL
# when several processes or hosts serve the panel).
MAILADMIN_CACHE_URL = env.str("MAILADMIN_CACHE_URL")
if MAILADMIN_CACHE_URL and not MAILADMIN_CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    env.errors.append("MAILADMIN_CACHE_URL: expected a redis:// URL")
    MAILADMIN_CACHE_URL = ""
# Seconds a request waits for the cache's Redis to connect and to answer. A stopped or hung
# Redis then costs a request about this long, once: mailadmin.lib.ratelimit counts in the
# process's memory for a while after a failure.
CACHE_SOCKET_TIMEOUT = 0.5


def cache_config(url: str) -> dict:
    """The default cache: Redis at ``url`` with short timeouts, or this process's memory."""
    if not url:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": "mailadmin",
        "OPTIONS": {
            "socket_connect_timeout": CACHE_SOCKET_TIMEOUT,
            "socket_timeout": CACHE_SOCKET_TIMEOUT,
        },
    }


CACHES = {"default": cache_config(MAILADMIN_CACHE_URL)}

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = env.choice("MAILADMIN_LANGUAGE", "en", ("en", "zh-hans", "zh-hant"))
LANGUAGES = [
    ("en", "English"),
    ("zh-hans", "简体中文"),
    ("zh-hant", "繁體中文"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("MAILADMIN_TIME_ZONE", "UTC")
try:
    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    env.errors.append(f"MAILADMIN_TIME_ZONE: unknown time zone {TIME_ZONE!r}")
    TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("MAILADMIN_STATIC_ROOT", str(BASE_DIR / "var" / "static")))
# The application serves its own static files (WhiteNoise), gzip-compressed by collectstatic;
# a proxy in front may serve STATIC_ROOT itself instead.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Email ----------------------------------------------------------------------------------
EMAIL_BACKEND = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
}[env.choice("MAILADMIN_EMAIL_BACKEND", "smtp", ("smtp", "console"))]
EMAIL_HOST = env.str("MAILADMIN_SMTP_HOST", "127.0.0.1")
EMAIL_PORT = env.int("MAILADMIN_SMTP_PORT", 25, minimum=1, maximum=65535)
DEFAULT_FROM_EMAIL = env.str("MAILADMIN_EMAIL_FROM", "mailadmin@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Group mail -----------------------------------------------------------------------------
# Group mails (groupmail.services) go through the mail settings above, to the local MTA, one
# message per recipient. From and envelope sender: an address, where {domain} stands for the
# recipient's domain (default postmaster@<the recipient's domain>); a manager never types it.
MAILADMIN_GROUPMAIL_FROM = env.str("MAILADMIN_GROUPMAIL_FROM", "postmaster@{domain}")
_ADDRESS_PART = r"[^@\s<>\"(),;:{}]+"
if not re.fullmatch(rf"{_ADDRESS_PART}@({_ADDRESS_PART}|\{{domain\}})", MAILADMIN_GROUPMAIL_FROM):
    env.errors.append(
        "MAILADMIN_GROUPMAIL_FROM: expected an address such as notices@example.com or"
        " postmaster@{domain}"
    )
# Messages sent over one SMTP connection before the stop button is looked at again, and the
# seconds to wait between two batches (to spread a large group mail over time).
MAILADMIN_GROUPMAIL_BATCH = env.int("MAILADMIN_GROUPMAIL_BATCH", 50, minimum=1, maximum=10_000)
MAILADMIN_GROUPMAIL_PAUSE = env.int("MAILADMIN_GROUPMAIL_PAUSE", 0, minimum=0, maximum=3600)
# Largest attachment in bytes (0: no attachments). It is kept in the database until the
# group mail is deleted, and sent once per recipient.
MAILADMIN_GROUPMAIL_ATTACHMENT_MAX = env.int(
    "MAILADMIN_GROUPMAIL_ATTACHMENT_MAX", 5 * 1024 * 1024, minimum=0, maximum=10 * 1024 * 1024
)
# When the mail server does not take the messages: tries again this many times, this many
# seconds apart, then the group mail fails (resumable) with what was sent.
MAILADMIN_GROUPMAIL_RETRIES = env.int("MAILADMIN_GROUPMAIL_RETRIES", 3, minimum=0, maximum=100)
MAILADMIN_GROUPMAIL_RETRY_DELAY = env.int(
    "MAILADMIN_GROUPMAIL_RETRY_DELAY", 30, minimum=1, maximum=3600
)

# --- Jobs -----------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
# Without a broker (quick start) jobs run inline in the web process; Celery still asks for a
# connection when it runs a task inline, so give it the in-memory one.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
# Housekeeping tasks (the sweeper and other periodic work) go to this queue; jobs go to
# "maildir.<storage host>" or "privileged" (provisioning.services.queue_for).
CELERY_TASK_DEFAULT_QUEUE = "mailadmin"
# A web request must not hang when the broker is down: give up sending quickly, the job row
# stays pending and the sweeper sends it once the broker is back.
# A web request must not hang when the broker is down or hung: one short try per message, no
# retries, and after a failure the process stops trying for MAILADMIN_JOB_BROKER_PAUSE seconds
# (provisioning.dispatch); the job rows stay pending and the sweeper sends them later.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1,
    "socket_timeout": 1,
    "max_retries": 0,
}
MAILADMIN_JOB_BROKER_PAUSE = env.int("MAILADMIN_JOB_BROKER_PAUSE", 30, minimum=1)
# The sweeper: re-sends pending jobs whose message was lost and reclaims jobs whose worker
# died (provisioning.runner.sweep). A running job's worker renews its lease every third of
# MAILADMIN_JOB_LEASE seconds; a lease that ran out means the worker is gone, and the next
# sweep gives the job to another worker: a dead worker's job goes on within
# MAILADMIN_JOB_LEASE + MAILADMIN_JOB_SWEEP_INTERVAL seconds (50 by default).
MAILADMIN_JOB_SWEEP_INTERVAL = env.int("MAILADMIN_JOB_SWEEP_INTERVAL", 20, minimum=1)
MAILADMIN_JOB_RESEND_AFTER = env.int("MAILADMIN_JOB_RESEND_AFTER", 120, minimum=1)
MAILADMIN_JOB_LEASE = env.int("MAILADMIN_JOB_LEASE", 30, minimum=1)
# Background operations (provisioning.operations): bulk actions and imports larger than these
# sizes leave the web request and run with a progress bar; smaller ones are done in the request.
MAILADMIN_BACKGROUND_BULK_OVER = env.int("MAILADMIN_BACKGROUND_BULK_OVER", 50, minimum=0)
MAILADMIN_BACKGROUND_IMPORT_OVER = env.int("MAILADMIN_BACKGROUND_IMPORT_OVER", 200, minimum=0)
MAILADMIN_BACKGROUND_SIGNUP_BULK_OVER = env.int(
    "MAILADMIN_BACKGROUND_SIGNUP_BULK_OVER", 20, minimum=0
)
# A running operation whose heartbeat (written every second) is older than this many seconds
# lost its worker: it is marked failed (nothing of it was committed).
MAILADMIN_OPERATION_STALE_AFTER = env.int("MAILADMIN_OPERATION_STALE_AFTER", 60, minimum=5)
# How often, in milliseconds, a running operation writes its progress and heartbeat.
MAILADMIN_OPERATION_HEARTBEAT_MS = env.int("MAILADMIN_OPERATION_HEARTBEAT_MS", 1000, minimum=50)
# Generated passwords of a background bulk reset are kept (sealed) until the manager who asked
# has seen them once, but never longer than this many seconds.
MAILADMIN_OPERATION_SECRET_TTL = env.int("MAILADMIN_OPERATION_SECRET_TTL", 3600, minimum=60)
CELERY_BEAT_SCHEDULE = {
    "mailadmin-sweep-jobs": {
        "task": "provisioning.sweep",
        "schedule": float(MAILADMIN_JOB_SWEEP_INTERVAL),
        # A sweep that waited longer than one interval is superseded by the next one.
        "options": {"expires": float(MAILADMIN_JOB_SWEEP_INTERVAL)},
    },
    # Usage figures corrected for rows written behind the panel's back (ExtMan, SQL scripts).
    "mailadmin-recompute-usage": {"task": "domains.recompute_usage", "schedule": 900.0},
    # Pending signup requests older than MAILADMIN_SIGNUP_EXPIRE_DAYS are expired.
    "mailadmin-expire-signups": {"task": "signup.expire_signups", "schedule": 3600.0},
    # The daily digest of new signup requests (sent only when MAILADMIN_SIGNUP_NOTIFY asks).
    "mailadmin-signup-digest": {
        "task": "signup.signup_digest",
        "schedule": crontab(hour=7, minute=0),
    },
}

# --- Expiry and archives --------------------------------------------------------------------
# What the daily expiry run (expiry.run_expiry, manage.py expire_users) does with mailboxes and
# domains past their expiry date: "disable" sets active=0 (audited), "report" only mails the
# list to the superadmins.
MAILADMIN_EXPIRY_ACTION = env.choice("MAILADMIN_EXPIRY_ACTION", "disable", ("disable", "report"))
# Days before the expiry date on which the mailbox and its domain's admins are told (once each;
# 0 = no notices).
MAILADMIN_EXPIRY_NOTICE_DAYS: list[int] = []
for _days in env.list("MAILADMIN_EXPIRY_NOTICE_DAYS", ("14", "3")):
    if _days == "0":
        continue  # 0: no notices
    if not _days.isdigit() or not 1 <= int(_days) <= 3650:
        env.errors.append(
            f"MAILADMIN_EXPIRY_NOTICE_DAYS: expected whole numbers of days (1-3650) separated"
            f" by commas, got {_days!r}"
        )
    else:
        MAILADMIN_EXPIRY_NOTICE_DAYS.append(int(_days))
MAILADMIN_EXPIRY_NOTICE_DAYS = sorted(set(MAILADMIN_EXPIRY_NOTICE_DAYS), reverse=True)
# The hour (MAILADMIN_TIME_ZONE) of the daily expiry run.
MAILADMIN_EXPIRY_HOUR = env.int("MAILADMIN_EXPIRY_HOUR", 6, minimum=0, maximum=23)
# The generated Postfix/Dovecot/authlib queries also refuse mailboxes and domains past their
# expiry date (the database's CURDATE()), without waiting for the daily run.
MAILADMIN_MAILSTACK_REFUSE_EXPIRED = env.bool("MAILADMIN_MAILSTACK_REFUSE_EXPIRED", False)
# Days an archive of deleted mail is kept on the storage host before the daily purge removes
# it; 0 keeps archives until an admin deletes them.
MAILADMIN_ARCHIVE_RETENTION_DAYS = env.int("MAILADMIN_ARCHIVE_RETENTION_DAYS", 30, minimum=0)
# The hour (MAILADMIN_TIME_ZONE) of the daily archive scan and purge.
MAILADMIN_ARCHIVE_HOUR = env.int("MAILADMIN_ARCHIVE_HOUR", 3, minimum=0, maximum=23)
CELERY_BEAT_SCHEDULE.update(
    {
        # Mailboxes and domains past their expiry date; notices before it.
        "mailadmin-expire-users": {
            "task": "expiry.run_expiry",
            "schedule": crontab(hour=MAILADMIN_EXPIRY_HOUR, minute=15),
        },
        # Each storage host measures its archives and finds those the table does not know.
        "mailadmin-scan-archives": {
            "task": "archives.scan_archives",
            "schedule": crontab(hour=MAILADMIN_ARCHIVE_HOUR, minute=0),
        },
        # Archives older than MAILADMIN_ARCHIVE_RETENTION_DAYS are deleted.
        "mailadmin-purge-archives": {
            "task": "archives.purge_archives",
            "schedule": crontab(hour=MAILADMIN_ARCHIVE_HOUR, minute=30),
        },
    }
)

# --- Mail activity (docs/activity.md) -------------------------------------------------------
# The time zone of traditional syslog timestamps ("Sep  6 14:36:11", which carry none) in the
# mail logs the follower reads; RFC 3339 timestamps carry their own.
MAILADMIN_ACTIVITY_LOG_TIME_ZONE = env.str("MAILADMIN_ACTIVITY_LOG_TIME_ZONE", TIME_ZONE)
try:
    zoneinfo.ZoneInfo(MAILADMIN_ACTIVITY_LOG_TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    env.errors.append(
        f"MAILADMIN_ACTIVITY_LOG_TIME_ZONE: unknown time zone {MAILADMIN_ACTIVITY_LOG_TIME_ZONE!r}"
    )
    MAILADMIN_ACTIVITY_LOG_TIME_ZONE = TIME_ZONE
# The name the follower stores its rows under (default: the machine's host name).
MAILADMIN_ACTIVITY_HOST = env.str("MAILADMIN_ACTIVITY_HOST", "")
# Days messages, recipients and logins are kept; the hourly counts are kept as long, the
# daily counts (the graphs by week, month and year) MAILADMIN_ACTIVITY_DAILY_RETENTION_DAYS.
MAILADMIN_ACTIVITY_RETENTION_DAYS = env.int("MAILADMIN_ACTIVITY_RETENTION_DAYS", 90, minimum=1)
MAILADMIN_ACTIVITY_DAILY_RETENTION_DAYS = env.int(
    "MAILADMIN_ACTIVITY_DAILY_RETENTION_DAYS", 1830, minimum=1
)
# The follower writes after this many lines, or this many seconds after the first unwritten one.
MAILADMIN_ACTIVITY_BATCH_LINES = env.int("MAILADMIN_ACTIVITY_BATCH_LINES", 5000, minimum=1)
MAILADMIN_ACTIVITY_BATCH_SECONDS = env.int("MAILADMIN_ACTIVITY_BATCH_SECONDS", 2, minimum=1)
CELERY_BEAT_SCHEDULE["mailadmin-purge-activity"] = {
    "task": "activity.purge",
    "schedule": crontab(hour=MAILADMIN_ARCHIVE_HOUR, minute=45),
}
# --- Disk usage, quota warnings and usage reports (docs/disk-usage.md) ------------------------
# Minutes between two measurements of every Maildir by the storage workers (0: only on request
# or with `manage.py disk_usage measure`).
MAILADMIN_USAGE_INTERVAL = env.int("MAILADMIN_USAGE_INTERVAL", 60, minimum=0, maximum=7 * 24 * 60)
# Percentages of the quota at which a mailbox is warned, once per crossing (0 or empty: none).
MAILADMIN_QUOTA_WARN_PERCENT: list[int] = []
for _percent in env.list("MAILADMIN_QUOTA_WARN_PERCENT", ("80", "90", "95")):
    if _percent == "0":
        continue
    if not _percent.isdigit() or not 1 <= int(_percent) <= 1000:
        env.errors.append(
            f"MAILADMIN_QUOTA_WARN_PERCENT: expected whole percentages (1-1000) separated by"
            f" commas, got {_percent!r}"
        )
    else:
        MAILADMIN_QUOTA_WARN_PERCENT.append(int(_percent))
MAILADMIN_QUOTA_WARN_PERCENT = sorted(set(MAILADMIN_QUOTA_WARN_PERCENT))
# The domain's admins get a copy of each quota warning.
MAILADMIN_QUOTA_WARN_ADMINS = env.bool("MAILADMIN_QUOTA_WARN_ADMINS", False)
# The usage report mailed to each domain's admins (with a CSV): off, daily, weekly (Mondays) or
# monthly (the 1st), at MAILADMIN_USAGE_REPORT_HOUR:45.
MAILADMIN_USAGE_REPORT = env.choice(
    "MAILADMIN_USAGE_REPORT", "weekly", ("off", "daily", "weekly", "monthly")
)
MAILADMIN_USAGE_REPORT_HOUR = env.int("MAILADMIN_USAGE_REPORT_HOUR", 7, minimum=0, maximum=23)
if MAILADMIN_USAGE_INTERVAL:
    CELERY_BEAT_SCHEDULE["mailadmin-measure-usage"] = {
        "task": "diskusage.measure_usage",
        "schedule": float(MAILADMIN_USAGE_INTERVAL * 60),
        "options": {"expires": float(MAILADMIN_USAGE_INTERVAL * 60)},
    }
if MAILADMIN_USAGE_REPORT != "off":
    CELERY_BEAT_SCHEDULE["mailadmin-usage-reports"] = {
        "task": "diskusage.usage_reports",
        "schedule": crontab(
            hour=MAILADMIN_USAGE_REPORT_HOUR,
            minute=45,
            **{"daily": {}, "weekly": {"day_of_week": 1}, "monthly": {"day_of_month": 1}}[
                MAILADMIN_USAGE_REPORT
            ],
        ),
    }

# --- The mail system ------------------------------------------------------------------------
MAILADMIN_MAIL_BASE = env.path("MAILADMIN_MAIL_BASE", "/home/domains")
MAILADMIN_QUOTA_TYPE = env.choice("MAILADMIN_QUOTA_TYPE", "courier", ("courier", "vda"))
MAILADMIN_QUOTA_MULTIPLIER = env.int("MAILADMIN_QUOTA_MULTIPLIER", 1_048_576, minimum=1)
MAILADMIN_DEFAULT_UID = env.int("MAILADMIN_DEFAULT_UID", 1000, minimum=1)
MAILADMIN_DEFAULT_GID = env.int("MAILADMIN_DEFAULT_GID", 1000, minimum=1)
MAILADMIN_UID_RANGE = env.range("MAILADMIN_UID_RANGE", (1000, 60000))
MAILADMIN_GID_RANGE = env.range("MAILADMIN_GID_RANGE", (1000, 60000))
MAILADMIN_ISP_MODE = env.bool("MAILADMIN_ISP_MODE", False)
MAILADMIN_ISP_HASH = env.str("MAILADMIN_ISP_HASH", "2x2")
MAILADMIN_STORAGE_HOSTS = env.list("MAILADMIN_STORAGE_HOSTS")
MAILADMIN_PURGE_ALLOWED = env.bool("MAILADMIN_PURGE_ALLOWED", False)
MAILADMIN_POSTFIX_DIR = env.path("MAILADMIN_POSTFIX_DIR", "/etc/postfix/mailadmin")
MAILADMIN_POSTMAP = env.str("MAILADMIN_POSTMAP", "/usr/sbin/postmap")
MAILADMIN_POSTFIX = env.str("MAILADMIN_POSTFIX", "/usr/sbin/postfix")
MAILADMIN_DOVEADM = env.str("MAILADMIN_DOVEADM", "/usr/bin/doveadm")
MAILADMIN_POSTQUEUE = env.str("MAILADMIN_POSTQUEUE", "/usr/sbin/postqueue")
MAILADMIN_POSTSUPER = env.str("MAILADMIN_POSTSUPER", "/usr/sbin/postsuper")
# The status page (mailstack.status): every worker reports its host this often (seconds); a
# host whose report is older than three intervals is shown as not answering. Workers have
# MAILADMIN_STATUS_TIMEOUT seconds to answer a collection.
MAILADMIN_STATUS_INTERVAL = env.int("MAILADMIN_STATUS_INTERVAL", 60, minimum=10)
MAILADMIN_STATUS_TIMEOUT = env.int("MAILADMIN_STATUS_TIMEOUT", 5, minimum=1)
# Every worker reports its host's load, disk, Postfix queue and services.
CELERY_BEAT_SCHEDULE["mailadmin-collect-status"] = {
    "task": "mailstack.collect_status",
    "schedule": float(MAILADMIN_STATUS_INTERVAL),
    "options": {"expires": float(MAILADMIN_STATUS_INTERVAL)},
}
# Postfix configuration directory given to postmap/postfix as -c (empty: Postfix's default).
MAILADMIN_POSTFIX_CONFIG_DIR = env.str("MAILADMIN_POSTFIX_CONFIG_DIR", "")
if MAILADMIN_POSTFIX_CONFIG_DIR and not Path(MAILADMIN_POSTFIX_CONFIG_DIR).is_absolute():
    env.errors.append("MAILADMIN_POSTFIX_CONFIG_DIR: must be an absolute path")
# Write the hash table "transport" from domain.transport (for transport_maps in main.cf).
MAILADMIN_TRANSPORT_MAP = env.bool("MAILADMIN_TRANSPORT_MAP", False)

# --- Self-service (signup, mailbox portal, password recovery) --------------------------------
# Test mode of the captcha: the answer "PASSED" is accepted (read at each request by
# mailadmin.lib.captcha). The library's own import-time CAPTCHA_TEST_MODE stays off.
MAILADMIN_CAPTCHA_TEST_MODE = env.bool("MAILADMIN_CAPTCHA_TEST_MODE", False)
CAPTCHA_TEST_MODE = False
CAPTCHA_LENGTH = 5
CAPTCHA_TIMEOUT = 10  # minutes
# A challenge people can read: large upright capitals without look-alikes, light noise.
CAPTCHA_CHALLENGE_FUNCT = "mailadmin.lib.captcha.readable_challenge"
CAPTCHA_IMAGE_SIZE = (240, 80)
CAPTCHA_FONT_SIZE = 42
CAPTCHA_LETTER_ROTATION = (-10, 10)
CAPTCHA_FOREGROUND_COLOR = "#1f2937"
CAPTCHA_NOISE_FUNCTIONS = ("captcha.helpers.noise_dots",)
CAPTCHA_FILTER_FUNCTIONS: tuple[str, ...] = ()
# The spoken alternative (a WAV file) needs flite, and sox for its background noise (Debian
# packages flite and sox, installed by scripts/bootstrap.sh); without flite there is none.
CAPTCHA_FLITE_PATH = shutil.which("flite")
CAPTCHA_SOX_PATH = shutil.which("sox")
# Local parts nobody may sign up for (role addresses of RFC 2142 and common system names).
MAILADMIN_SIGNUP_RESERVED_NAMES = [
    name.lower()
    for name in env.list(
        "MAILADMIN_SIGNUP_RESERVED_NAMES",
        (
            "postmaster",
            "abuse",
            "root",
            "admin",
            "administrator",
            "hostmaster",
            "webmaster",
            "mailer-daemon",
            "noreply",
            "no-reply",
            "nobody",
            "security",
            "support",
            "info",
            "sales",
            "marketing",
            "billing",
            "help",
            "www",
            "ftp",
            "mail",
            "usenet",
            "news",
            "uucp",
            "daemon",
            "system",
            "operator",
        ),
    )
]
# Pending requests one domain may hold; further requests are refused until some are decided.
MAILADMIN_SIGNUP_MAX_PENDING = env.int("MAILADMIN_SIGNUP_MAX_PENDING", 100, minimum=1)
# Signup submissions one client address may make per window (seconds).
MAILADMIN_SIGNUP_RATE_LIMIT = env.int("MAILADMIN_SIGNUP_RATE_LIMIT", 5, minimum=1)
MAILADMIN_SIGNUP_RATE_WINDOW = env.int("MAILADMIN_SIGNUP_RATE_WINDOW", 3600, minimum=60)
# Days after which an undecided request expires (signup.services.expire_requests).
MAILADMIN_SIGNUP_EXPIRE_DAYS = env.int("MAILADMIN_SIGNUP_EXPIRE_DAYS", 14, minimum=1)
# How the domain's admins hear of new requests: a mail for each, a daily digest, both, or off.
MAILADMIN_SIGNUP_NOTIFY = env.choice(
    "MAILADMIN_SIGNUP_NOTIFY", "each", ("each", "digest", "both", "off")
)
# Address of the panel, e.g. https://mail.example.com: every link in a mail the panel sends
# (signup, expiry, group mail) starts with it, as those mails are mostly sent by periodic tasks
# without a request to take the address from. Empty = links are bare paths (`check --deploy`
# warns when DEBUG=0). MAILADMIN_BASE_URL is its older name, still read.
MAILADMIN_SITE_URL = env.str("MAILADMIN_SITE_URL", env.str("MAILADMIN_BASE_URL")).rstrip("/")
# Failed recovery attempts allowed per address and per client address before a cool-off
# (MAILADMIN_LOGIN_COOLOFF seconds); portal logins use MAILADMIN_LOGIN_FAILURE_LIMIT.
MAILADMIN_RECOVERY_FAILURE_LIMIT = env.int("MAILADMIN_RECOVERY_FAILURE_LIMIT", 5, minimum=1)
# How the panel writes recovery answers (portal, signup, mailbox form): "hashed" (SHA512-crypt,
# unreadable, but ExtMail webmail's own recovery cannot check it) or "extmail" (clear text, as
# ExtMan wrote it: ExtMail webmail's recovery works, anyone who can read the database reads the
# answers). Verification accepts both forms whatever this says.
MAILADMIN_RECOVERY_ANSWER_FORMAT = env.choice(
    "MAILADMIN_RECOVERY_ANSWER_FORMAT", "hashed", ("hashed", "extmail")
)

_hash_depth = MAILADMIN_ISP_HASH.lower().split("x")
if len(_hash_depth) != 2 or not all(part.isdigit() and 0 < int(part) < 9 for part in _hash_depth):
    env.errors.append(
        f"MAILADMIN_ISP_HASH: expected <length>x<depth> such as 2x2, got {MAILADMIN_ISP_HASH!r}"
    )
if MAILADMIN_DEFAULT_UID and not (
    MAILADMIN_UID_RANGE[0] <= MAILADMIN_DEFAULT_UID <= MAILADMIN_UID_RANGE[1]
):
    env.errors.append("MAILADMIN_DEFAULT_UID: must lie inside MAILADMIN_UID_RANGE")
if MAILADMIN_DEFAULT_GID and not (
    MAILADMIN_GID_RANGE[0] <= MAILADMIN_DEFAULT_GID <= MAILADMIN_GID_RANGE[1]
):
    env.errors.append("MAILADMIN_DEFAULT_GID: must lie inside MAILADMIN_GID_RANGE")

# --- REST API (docs/api.md) -----------------------------------------------------------------
# Requests per minute a manager may make (token or session), and an unauthenticated client
# address; counted in the rate-limit cache (MAILADMIN_CACHE_URL), as the public forms are.
MAILADMIN_API_RATE = env.int("MAILADMIN_API_RATE", 600, minimum=1)
MAILADMIN_API_ANON_RATE = env.int("MAILADMIN_API_ANON_RATE", 60, minimum=1)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.TokenAuthentication",
        "api.authentication.PanelSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.ManagerWithScope"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.ApiThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "mailadmin API",
    "DESCRIPTION": "Domains, mailboxes, aliases, managers, signup requests, jobs and the audit"
    " log of the mail panel (docs/api.md).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Logging --------------------------------------------------------------------------------
# Security events (login failures, lockouts) go to the "mailadmin.security" logger in a
# fixed format that fail2ban can match (docs/operations.md).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {
        "handlers": ["console"],
        "level": env.choice(
            "MAILADMIN_LOG_LEVEL", "info", ("debug", "info", "warning", "error")
        ).upper(),
    },
    "loggers": {
        "axes": {"level": "WARNING"},
        # fail2ban depends on these lines whatever the general log level.
        "mailadmin.security": {"level": "INFO"},
    },
}

env.check()
