"""Start-up checks shared by commands that serve or work: database reachable, migrations applied."""

from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import OperationalError


def require_database_ready() -> None:
    """Raise a one-line CommandError when the database is unreachable or not migrated."""
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        connection.ensure_connection()
    except OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "cannot connect"
        raise CommandError(f"database unreachable: {first} (check DATABASE_URL)") from exc
    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in pending[:3])
        more = f" and {len(pending) - 3} more" if len(pending) > 3 else ""
        raise CommandError(
            f"{len(pending)} migration(s) not applied ({names}{more}): run `regulars migrate`"
        )
