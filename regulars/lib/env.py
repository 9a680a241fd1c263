"""Environment helpers for settings: where var/ is, the database URL, the secret key."""

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

SQLITE_OPTIONS = {
    # WAL lets a web process and a worker read while one writes; the busy timeout makes a
    # second writer wait instead of failing; IMMEDIATE takes the write lock at BEGIN so two
    # writers cannot deadlock upgrading read locks.
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}


def var_dir() -> Path:
    """The folder for the SQLite file, the generated secret key and collected static files.

    REGULARS_VAR wins; in a source checkout it is the checkout's var/, otherwise ./var.
    """
    checkout = Path(__file__).resolve().parents[2]
    default = checkout / "var" if (checkout / "pyproject.toml").exists() else Path.cwd() / "var"
    path = Path(os.environ.get("REGULARS_VAR", default)).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def ensure_secret_key(var: Path) -> str:
    """Read the secret key generated on first run, creating it (mode 600) if absent."""
    key_file = var / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def database_from_env(url: str, var: Path, *, prepared: bool = True) -> dict:
    """Turn DATABASE_URL into a Django DATABASES entry, with one-line errors for bad values.

    `prepared` (PostgreSQL): use prepared statements (DATABASE_PREPARED, default on)."""
    if not url:
        url = f"sqlite:///{var / 'regulars.sqlite3'}"
    scheme = urlsplit(url).scheme
    if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL: unsupported scheme {scheme!r}; use sqlite:///path or postgres://…"
        )
    try:
        config = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises assorted errors for malformed URLs
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid URL: {exc}") from exc
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = dict(SQLITE_OPTIONS)
    else:
        config.setdefault("CONN_MAX_AGE", 60)
        config["CONN_HEALTH_CHECKS"] = True
        if prepared:
            # Server-side binding, and statements prepared once seen twice on a connection:
            # PostgreSQL then skips planning them (on a small machine planning a sale's lookups
            # cost more than running them). Off behind a transaction-mode pooler (PgBouncer
            # before 1.21), which cannot keep prepared statements per client.
            config["OPTIONS"] = {
                **config.get("OPTIONS", {}),
                "server_side_binding": True,
                "prepare_threshold": 2,
            }
    return config


MAIL_BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "dummy": "django.core.mail.backends.dummy.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "smtp+tls": "django.core.mail.backends.smtp.EmailBackend",
    "smtps": "django.core.mail.backends.smtp.EmailBackend",
}


def mailer_from_url(url: str) -> dict:
    """EMAIL_URL → a MAILERS entry. smtp://user:pass@host:587 ; smtp+tls:// STARTTLS ; smtps:// SSL."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in MAIL_BACKENDS:
        raise ImproperlyConfigured(
            f"EMAIL_URL: unsupported scheme {scheme!r}; use smtp://, smtp+tls://, smtps:// or console://"
        )
    mailer: dict = {"BACKEND": MAIL_BACKENDS[scheme]}
    if scheme.startswith("smtp"):
        query = parse_qs(parts.query)
        mailer["OPTIONS"] = {
            "host": parts.hostname or "localhost",
            "port": parts.port
            or (465 if scheme == "smtps" else 587 if scheme == "smtp+tls" else 25),
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "use_tls": scheme == "smtp+tls",
            "use_ssl": scheme == "smtps",
            "timeout": int(query.get("timeout", ["10"])[0]),
        }
    return mailer
