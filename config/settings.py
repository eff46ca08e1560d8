"""Settings for Nautilus Integration.

One module, driven by environment variables. Values come from the process
environment first and ``config/.env`` second (the file never overrides a real
environment variable), and each is read by a typed helper from ``config.env``
that stops start-up with the variable's name when it is missing or malformed.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from dotenv import load_dotenv

from config.env import (
    env_bool,
    env_choice,
    env_decimal,
    env_int,
    env_path,
    env_rate,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
ENV_FILE = Path(os.environ.get("ENV_FILE", BASE_DIR / "config" / ".env"))
load_dotenv(ENV_FILE, override=False)

# ---------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------
SECRET_KEY = env_str("SECRET_KEY")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [h.strip() for h in env_str("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env_str("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_celery_beat",
    "monitoring",
    "trading",
    "risk",
    "portfolio",
    "strategies",
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
    "monitoring.audit.AuditContextMiddleware",
    "monitoring.logging.CorrelationIdMiddleware",
    "monitoring.metrics.MetricsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

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
                "monitoring.roles.role_context",
            ],
        },
    },
]

# ---------------------------------------------------------------------------
# Stores
# ---------------------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", schemes=("postgres", "postgresql"))
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", "") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss", "unix"))

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        "KEY_PREFIX": "ni",
    }
}
# Sessions live in PostgreSQL so a Redis outage does not log every user out.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": "ni:ch", "capacity": 1000, "expiry": 30},
    }
}

NEO4J_BOLT_URL = env_url("NEO4J_BOLT_URL", "", schemes=("bolt", "neo4j", "bolt+s", "neo4j+s"))

# ---------------------------------------------------------------------------
# Nautilus
# ---------------------------------------------------------------------------
NAUTILUS_CONFIG_PATH = env_path("NAUTILUS_CONFIG_PATH", "config/nautilus.json", base=BASE_DIR)
NAUTILUS_DATA_PATH = env_path("NAUTILUS_DATA_PATH", "var/catalog", base=BASE_DIR)

# ---------------------------------------------------------------------------
# Risk
# ---------------------------------------------------------------------------
MAX_POSITION_SIZE = env_decimal("MAX_POSITION_SIZE")
MAX_DAILY_LOSS = env_decimal("MAX_DAILY_LOSS")
RISK_CHECK_INTERVAL = env_int("RISK_CHECK_INTERVAL", 1, minimum=1)
POSITION_SYNC_INTERVAL = env_int("POSITION_SYNC_INTERVAL", 5, minimum=1)

# ---------------------------------------------------------------------------
# Monitoring
# ---------------------------------------------------------------------------
LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
METRICS_ENABLED = env_bool("METRICS_ENABLED", True)
HEALTH_CHECK_INTERVAL = env_int("HEALTH_CHECK_INTERVAL", 30, minimum=1)
# How often the header indicators are recomputed and pushed, in seconds.
STATUS_PUSH_INTERVAL = env_int("STATUS_PUSH_INTERVAL", 2, minimum=1)
LOG_DIR = env_path("LOG_DIR", "logs", base=BASE_DIR)
LOG_DIR.mkdir(parents=True, exist_ok=True)
# prometheus_client's multiprocess mode reads this when a metric is created, so it
# is set here, before anything imports monitoring.metrics, in every process.
PROMETHEUS_MULTIPROC_DIR = env_path("PROMETHEUS_MULTIPROC_DIR", "var/prometheus", base=BASE_DIR)
PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(PROMETHEUS_MULTIPROC_DIR)

# Alert delivery: Django's email backend (SMTP by default) and a Slack-compatible webhook.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "desk-alerts@localhost")
ALERT_EMAIL_TO = env_str("ALERT_EMAIL_TO", "")
ALERT_WEBHOOK_URL = env_url("ALERT_WEBHOOK_URL", "", schemes=("http", "https"))
ALERT_WEBHOOK_TIMEOUT = env_int("ALERT_WEBHOOK_TIMEOUT", 5, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "monitoring.logging.ContextFilter"}},
    "formatters": {
        "json": {"()": "monitoring.logging.DeskJsonFormatter"},
        "console": {
            "()": "monitoring.logging.ConsoleFormatter",
            "format": "%(asctime)s %(levelname)-7s %(role)s %(name)s%(cid)s %(message)s",
        },
    },
    "handlers": {
        # The loggers' one handler: stamps the correlation id on the calling thread and hands the
        # record to a thread that formats and writes it to the two below (monitoring.logging).
        "background": {
            "class": "monitoring.logging.BackgroundHandler",
            "handlers": ["console", "file"],
            "filters": ["context"],
        },
        "console": {"class": "logging.StreamHandler", "formatter": "console"},
        # Several processes write this file; this handler locks around writes and rotation.
        "file": {
            "class": "concurrent_log_handler.ConcurrentRotatingFileHandler",
            "filename": str(LOG_DIR / "nautilus-integration.log"),
            "maxBytes": 50 * 1024 * 1024,
            "backupCount": 10,
            "formatter": "json",
        },
    },
    "root": {"handlers": ["background"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "daphne": {"level": "WARNING"},
        "celery.worker.strategy": {"level": "WARNING"},
    },
}

# ---------------------------------------------------------------------------
# F8 (the firm's portfolio and risk system)
# ---------------------------------------------------------------------------
F8_API_URL = env_url("F8_API_URL", "", schemes=("http", "https"))
F8_API_KEY = env_str("F8_API_KEY", "")
F8_PORTFOLIO_ID = env_str("F8_PORTFOLIO_ID", "")

# Fernet key that encrypts venue credentials at rest.
CREDENTIALS_KEY = env_str("CREDENTIALS_KEY")

# ---------------------------------------------------------------------------
# Celery
# ---------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"trading.run_node": {"queue": "node"}}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# ---------------------------------------------------------------------------
# Auth, API
# ---------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "monitoring.roles.TokenRoleAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["monitoring.roles.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["config.throttling.UserThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_rate("API_THROTTLE_RATE", "6000/min"),
        "orders": env_rate("ORDER_THROTTLE_RATE", "3000/min"),
    },
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Nautilus Integration API",
    "DESCRIPTION": "Orders, strategies, risk limits, portfolio and monitoring of the trading desk.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI assets come from the pinned drf-spectacular-sidecar package via
    # whitenoise: the desk runs without internet, so no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "status" or "kind"; name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "trading.models.OrderStatus",
        "AccountStatusEnum": "trading.models.Account.Status",
        "StrategyStatusEnum": "strategies.models.Strategy.Status",
        "AlertStatusEnum": "monitoring.models.Alert.Status",
        "RiskLimitKindEnum": "risk.models.RiskLimit.Kind",
        "SnapshotKindEnum": "portfolio.models.PortfolioSnapshot.Kind",
    },
}

# ---------------------------------------------------------------------------
# i18n, static
# ---------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static", BASE_DIR / "node_modules"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
