"""Regulars settings: one flat file driven by the environment.

Every setting has a default that works at once (SQLite under var/, console e-mail), so a fresh
clone runs without a config file. docs/settings.md lists every variable; .env.example too.
"""

from pathlib import Path

import environ

from regulars.lib.env import database_from_env, ensure_secret_key, mailer_from_url, var_dir

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = var_dir()

env = environ.Env()

SECRET_KEY = env.str("SECRET_KEY", default="") or ensure_secret_key(VAR_DIR)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tasks_db",
    "js_lib_htmx",
    "regulars.accounts",
    "regulars.customers",
    "regulars.sales",
    "regulars.loyalty",
    "regulars.analytics",
    "regulars.integrations",
    "regulars.portal",
    "regulars.demo",
    "regulars.scheduler",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "regulars.urls"
WSGI_APPLICATION = "regulars.wsgi.application"

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
                "django.template.context_processors.i18n",
                "regulars.accounts.context.current_business",
            ],
        },
    }
]

DATABASES = {
    "default": database_from_env(
        env.str("DATABASE_URL", default=""),
        VAR_DIR,
        prepared=env.bool("DATABASE_PREPARED", default=True),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# Django's database sessions and ModelBackend, with plain-SQL reads of the session and the user
# on every page (regulars/accounts/sessions.py). One backend only: Django tries each listed
# backend on a failed login, and each would hash the password again. Sessions logged in through
# Django's own ModelBackend (before this) are asked to log in once more.
SESSION_ENGINE = "regulars.accounts.sessions"
AUTHENTICATION_BACKENDS = ["regulars.accounts.sessions.Backend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Internationalisation: five languages for every page; the business has its own default.
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [
    ("en", "English"),
    ("ru", "Русский"),
    ("uk", "Українська"),
    ("hu", "Magyar"),
    ("hr", "Hrvatski"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# plotly.js comes from the plotly wheel at install time; nothing is copied into the repo.
STATICFILES_DIRS = [BASE_DIR / "static"]
try:
    import plotly

    STATICFILES_DIRS.append(("plotly", Path(plotly.__file__).parent / "package_data"))
except ImportError:  # pragma: no cover - plotly is a hard dependency
    pass
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "media"

# E-mail: console by default; smtp://user:pass@host:port (or smtp+tls://, smtps://) in production.
MAILERS = {"default": mailer_from_url(env.str("EMAIL_URL", default="console://"))}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Regulars <noreply@localhost>")

# Background work: django.tasks on the database by default; TASKS_BACKEND=rq with REDIS_URL scales out.
_tasks_backend = env.str("TASKS_BACKEND", default="database")
if _tasks_backend == "immediate":
    TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
elif _tasks_backend == "rq":
    INSTALLED_APPS.append("django_rq")
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {"default": {"URL": env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")}}
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# How often each worker's scheduler looks for periodic jobs that are due (regulars.scheduler).
SCHEDULER_TICK_S = env.int("SCHEDULER_TICK_S", default=60)

# Analytics: a customer "is a customer" at a date when they bought within this many days.
ANALYTICS_ACTIVE_DAYS = env.int("ANALYTICS_ACTIVE_DAYS", default=90)

# REST API: requests per API key (ninja's rate syntax: N/s, N/m, N/h). The counter lives in the
# cache: per process with the default local-memory cache, shared when CACHE_URL points at Redis.
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="1200/m")
NINJA_PAGINATION_PER_PAGE = 50
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
}
