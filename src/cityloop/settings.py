"""Project wiring only: every value comes from ``cityloop.core.config`` (environment variables)."""

import sys
from datetime import timedelta
from pathlib import Path

from cityloop.core import config
from cityloop.hotline.performance import rates

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = config.data_dir()

SECRET_KEY = config.secret_key(DATA_DIR)
DEBUG = config.env_bool("CITYLOOP_DEBUG", False)
ALLOWED_HOSTS = config.allowed_hosts()
CSRF_TRUSTED_ORIGINS = [o for o in (config.env("CITYLOOP_CSRF_TRUSTED_ORIGINS", "") or "").split(",") if o]

# CityLoop's apps come first so their translations win over Django's ("Administration" → 系统管理).
INSTALLED_APPS = [
    "cityloop.org",
    "cityloop.core",
    "cityloop.hotline",
    "cityloop.services",
    "cityloop.seal",
    "cityloop.brain",
    "cityloop.notify",
    "cityloop.web",
    "django.contrib.admin",
    "django.contrib.auth",
    "axes",  # login lockout (core/logins.py)
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "cityloop.web.requestlog.RequestLogMiddleware",  # first: times and logs everything below it
    "django.middleware.security.SecurityMiddleware",
    "cityloop.web.metrics.MetricsMiddleware",  # times every request for /metrics
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: answers a locked-out login with the lockout page
]

ROOT_URLCONF = "cityloop.urls"
WSGI_APPLICATION = "cityloop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cityloop.web.context.shell",
            ],
        },
    }
]

DATABASES = {"default": config.database(DATA_DIR)}
# Rate limits and token lookups hold across workers and machines (Redis, or a table in the database).
CACHES = config.caches(DATA_DIR)
# The client's address: REMOTE_ADDR, unless the connection comes from one of these proxies
# (core/throttle.client_address). Django Ninja's own throttles never read X-Forwarded-For.
TRUSTED_PROXIES = config.trusted_proxies()
NINJA_NUM_PROXIES = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "cityloop.core.logins.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Lockout after repeated failed logins per username and client address, on /login/ and /admin/.
AXES_FAILURE_LIMIT = config.env_number("CITYLOOP_LOGIN_FAILURES", 5, low=1, high=1000, integer=True)
AXES_COOLOFF_TIME = timedelta(
    minutes=config.env_number("CITYLOOP_LOGIN_LOCKOUT_MINUTES", 15, low=1, high=7 * 24 * 60)
)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "cityloop.core.logins.axes_client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "cityloop.core.logins.lockout_response"
AXES_VERBOSE = False
# Lockouts are cleared with `cityloop axes_reset_username`; the admin stays read-only and audited (no axes
# pages).
AXES_ENABLE_ADMIN = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = config.language()
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = config.time_zone()
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# CITYLOOP_TESTING=0 wins over an imported pytest (time-machine imports it), so a test can start a real
# production server.
TESTING = config.env_bool("CITYLOOP_TESTING", "pytest" in sys.modules)
if DEBUG or TESTING:
    # tests and DEBUG serve from the app folders without a collectstatic manifest
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    WHITENOISE_USE_FINDERS = True
if TESTING and not config.env("CITYLOOP_REDIS_URL"):
    # Each test starts with empty counters (a table would carry them across live-server tests); the
    # shared cache itself is tested with real multi-worker servers (tests/core/test_shared_limits.py).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
TASKS = config.tasks(DATA_DIR)  # the scheduler's queue (core/tasks.py)
MEDIA_ROOT = DATA_DIR / "media"
# No uploaded file may pass this while it streams in (core/doors/uploads.py); each form has a lower one.
MAX_UPLOAD_FILE_BYTES = 20 * 1024 * 1024 + 64 * 1024  # the CSV import's 20 MB
FILE_UPLOAD_HANDLERS = [
    "cityloop.core.doors.uploads.SizeCapUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# A working day, not Django's two weeks: a session left open on a shared counter PC ends by itself.
SESSION_COOKIE_AGE = int(config.env_number("CITYLOOP_SESSION_HOURS", 8, low=0.25, high=24 * 30) * 3600)
# CITYLOOP_SECURE=1 behind a TLS proxy: cookies only over HTTPS, HSTS, plain HTTP redirected. The proxy
# says the original scheme in X-Forwarded-Proto (deploy/nginx sets it; it must overwrite the client's).
SECURE = config.env_bool("CITYLOOP_SECURE", False)
if SECURE:
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(config.env_number("CITYLOOP_HSTS_SECONDS", 31_536_000, low=0, high=63_072_000))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Health checks and scrapes come straight from the machine or the load balancer, over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# The city whose calendar, locator and language the deployment uses when a request names none.
CITYLOOP_CITY = config.env("CITYLOOP_CITY", "") or ""
CITYLOOP_HOLIDAY_DIR = config.env("CITYLOOP_HOLIDAY_DIR", "") or ""

# A signed checkpoint of the audit chain (core/anchor.py) at most this often, when the chain has grown.
AUDIT_CHECKPOINT_MINUTES = config.env_number("CITYLOOP_AUDIT_CHECKPOINT_MINUTES", 10, low=0, high=24 * 60)

LOG_FORMAT = config.env("CITYLOOP_LOG_FORMAT", "plain") or "plain"
if LOG_FORMAT not in {"plain", "json"}:
    raise config.ConfigError(f"CITYLOOP_LOG_FORMAT={LOG_FORMAT!r} must be plain or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "cityloop.web.requestlog.JsonFormatter"},
    },
    # CITYLOOP_LOG_FORMAT=json: one JSON object per line (access lines, errors with tracebacks).
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "loggers": {"cityloop": {"handlers": ["console"], "level": config.env("CITYLOOP_LOG_LEVEL", "INFO")}},
}

# Notifications (notify/): e-mail over SMTP through Django's backend; the outbox's retry policy.
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = config.env("CITYLOOP_SMTP_HOST", "127.0.0.1") or "127.0.0.1"
EMAIL_PORT = int(config.env_number("CITYLOOP_SMTP_PORT", 25, low=1, high=65535, integer=True))
EMAIL_HOST_USER = config.env("CITYLOOP_SMTP_USER", "") or ""
EMAIL_HOST_PASSWORD = config.env("CITYLOOP_SMTP_PASSWORD", "") or ""
EMAIL_USE_TLS = config.env_bool("CITYLOOP_SMTP_STARTTLS", False)
EMAIL_USE_SSL = config.env_bool("CITYLOOP_SMTP_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise config.ConfigError("CITYLOOP_SMTP_STARTTLS and CITYLOOP_SMTP_SSL exclude each other: set one")
EMAIL_TIMEOUT = config.env_number("CITYLOOP_SMTP_TIMEOUT_S", 10, low=0.1, high=300)
DEFAULT_FROM_EMAIL = (
    config.env("CITYLOOP_MAIL_FROM", "12345@cityloop.localhost") or "12345@cityloop.localhost"
)
NOTIFY = {
    "email": config.env_bool("CITYLOOP_NOTIFY_EMAIL", True),
    "max_attempts": config.env_number("CITYLOOP_NOTIFY_MAX_ATTEMPTS", 8, low=1, high=100, integer=True),
    "backoff_s": config.env_number("CITYLOOP_NOTIFY_BACKOFF_S", 5, low=0.01, high=3600),
    "backoff_max_s": config.env_number("CITYLOOP_NOTIFY_BACKOFF_MAX_S", 3600, low=0.01, high=7 * 86400),
    "digest_hour": config.env_number("CITYLOOP_NOTIFY_DIGEST_HOUR", 8, low=0, high=23, integer=True),
    # reminders before an order's limits: hours before the response limit, working days before the finish
    "remind_respond_hours": config.env_number("CITYLOOP_REMIND_RESPOND_HOURS", 2, low=0, high=720),
    "remind_finish_days": config.env_number("CITYLOOP_REMIND_FINISH_DAYS", 1, low=0, high=60, integer=True),
    # an overdue order goes to the unit's leaders after this many hours, and to the district's after twice
    "escalate_after_hours": config.env_number("CITYLOOP_ESCALATE_AFTER_HOURS", 4, low=0, high=720),
}

# The hotline's configurable rules (issue defaults); each can be overridden by an environment variable.
HOTLINE = {
    "respond_hours": {
        "urgent": config.env_number("CITYLOOP_RESPOND_HOURS_URGENT", 2, low=0.1, high=720),
        "normal": config.env_number("CITYLOOP_RESPOND_HOURS_NORMAL", 24, low=0.1, high=720),
    },
    "finish_days": config.env_number("CITYLOOP_FINISH_DAYS", 7, low=1, high=365, integer=True),
    "complex_finish_days": config.env_number(
        "CITYLOOP_COMPLEX_FINISH_DAYS", 15, low=1, high=365, integer=True
    ),
    "nearly_overdue_hours": config.env_number("CITYLOOP_NEARLY_OVERDUE_HOURS", 4, low=0, high=720),
    "duplicate_radius_m": config.env_number("CITYLOOP_DUPLICATE_RADIUS_M", 200, low=0, high=100_000),
    "duplicate_window_hours": config.env_number("CITYLOOP_DUPLICATE_WINDOW_HOURS", 72, low=0, high=24 * 365),
    "reopen_on": config.reopen_rules(),
    "reopen_limit": config.env_number("CITYLOOP_REOPEN_LIMIT", 2, low=0, high=100, integer=True),
    "arbitration_after_returns": config.env_number(
        "CITYLOOP_ARBITRATION_AFTER_RETURNS", 2, low=1, high=100, integer=True
    ),
    # A unit with fewer requests in a month is listed with its rates but not ranked (docs/metrics.md).
    "rank_min_received": config.env_number(
        "CITYLOOP_RANK_MIN_RECEIVED", 5, low=1, high=100_000, integer=True
    ),
    # How many streets the month's list of 治理类街乡 holds (performance/focus.py, docs/metrics.md).
    "governance_streets_top": config.env_number(
        "CITYLOOP_GOVERNANCE_STREETS_TOP", 10, low=1, high=10_000, integer=True
    ),
    "whistle_report_minutes": {"urgent": 30, "normal": 24 * 60},
    "whistle_working_time": config.env_bool("CITYLOOP_WHISTLE_WORKING_TIME", False),
    "score_weights": config.score_weights(rates.DEFAULT_WEIGHTS, rates.check_weights),
    "assessment_weight": config.assessment_weight(rates.check_assessment_weight),
    # 答复意见质量 in the rankings (docs/reply_quality.md): off by default, so the figures stay the rates'
    "reply_quality_weight": config.reply_quality_weight(rates.check_reply_quality_weight),
    # Group commit for API intake (hotline/intake/queue.py); tests write in their own transaction.
    "group_commit": config.env_bool("CITYLOOP_GROUP_COMMIT", not TESTING),
    "classifier_model": config.env("CITYLOOP_CLASSIFIER_MODEL", "") or str(DATA_DIR / "classifier.joblib"),
    # What the model in use was trained on (`cityloop hotline train --csv … --text-cols … --label-col …`):
    # retraining (weekly, `cityloop hotline retrain`) learns from it plus the dispatchers' decisions.
    "classifier_base_csv": config.env("CITYLOOP_CLASSIFIER_BASE_CSV", ""),
    "classifier_base_text_cols": config.env("CITYLOOP_CLASSIFIER_BASE_TEXT_COLS", ""),
    "classifier_base_label_col": config.env("CITYLOOP_CLASSIFIER_BASE_LABEL_COL", ""),
    # How long the one-time rating code sent to the citizen after a reply stays valid.
    "rating_link_days": config.env_number("CITYLOOP_RATING_LINK_DAYS", 14, low=1, high=365, integer=True),
    # Web-form submits without a login, per client address and hour (counted in the shared cache).
    "anonymous_submits_per_hour": config.env_number(
        "CITYLOOP_ANONYMOUS_SUBMITS_PER_HOUR", 20, low=1, high=1_000_000, integer=True
    ),
}
