"""The `regulars` command: Django's management commands, with one-line errors instead of tracebacks.

regulars demo            load the demo café and serve it
regulars serve           serve with granian on 127.0.0.1:8000
regulars createbusiness  create a business and its owner
regulars <django cmd>    migrate, createsuperuser, db_worker, shell, …
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    argv[0] = "regulars"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "regulars.settings")
    from django.core.exceptions import ImproperlyConfigured

    try:
        from django.core.management import execute_from_command_line
        from django.db.utils import OperationalError

        execute_from_command_line(argv)
    except ImproperlyConfigured as exc:
        print(f"regulars: configuration error: {exc}", file=sys.stderr)
        return 2
    except OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"regulars: database error: {first} (check DATABASE_URL)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
