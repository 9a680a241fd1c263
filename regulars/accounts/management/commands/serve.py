import os
import shutil
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from regulars.accounts.checks import require_database_ready


class Command(BaseCommand):
    help = "Serve Regulars with gunicorn (a production server), after checking the database."

    def add_arguments(self, parser):
        parser.add_argument(
            "--host",
            default=os.environ.get("HOST", "127.0.0.1"),
            help="address to listen on (default 127.0.0.1)",
        )
        parser.add_argument(
            "--port",
            type=int,
            default=int(os.environ.get("PORT", 8000)),
            help="port (default 8000)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.environ.get("WEB_WORKERS", 2)),
            help="gunicorn worker processes (default 2)",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=int(os.environ.get("WEB_THREADS", 4)),
            help="threads per worker (default 4)",
        )

    def handle(self, *args, host, port, workers, threads, **options):
        require_database_ready()
        call_command("collectstatic", interactive=False, verbosity=0)
        gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or shutil.which(
            "gunicorn"
        )
        if gunicorn is None:
            raise CommandError("gunicorn is not installed: run `make install`")
        self.stdout.write(f"Serving on http://{host}:{port}/ (Ctrl+C stops)")
        sys.stdout.flush()
        env_settings = os.environ.get("DJANGO_SETTINGS_MODULE", "regulars.settings")
        os.environ["DJANGO_SETTINGS_MODULE"] = env_settings
        os.environ.setdefault("REGULARS_VAR", str(settings.VAR_DIR))
        os.execv(
            gunicorn,
            [
                gunicorn,
                "regulars.wsgi:application",
                "--bind",
                f"{host}:{port}",
                "--workers",
                str(workers),
                "--threads",
                str(threads),
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "10",
            ],
        )
