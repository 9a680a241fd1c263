import os
import shutil
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from regulars.accounts.checks import require_database_ready


class Command(BaseCommand):
    help = (
        "Serve Regulars with granian (a production server), after checking the database, with a "
        "background worker next to it (imports, analytics, webhooks, the nightly jobs)."
    )

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
            help="web server worker processes (default 2)",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=int(os.environ.get("WEB_THREADS", 2)),
            help="threads per worker (default 2)",
        )
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="serve pages only; run `regulars worker` elsewhere",
        )

    def handle(self, *args, host, port, workers, threads, no_worker, **options):
        require_database_ready()
        call_command("collectstatic", interactive=False, verbosity=0)
        granian = shutil.which("granian", path=os.path.dirname(sys.executable)) or shutil.which(
            "granian"
        )
        if granian is None:
            raise CommandError("granian is not installed: run `make install`")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "regulars.settings")
        os.environ.setdefault("REGULARS_VAR", str(settings.VAR_DIR))
        web = web_server(granian, host, port, workers, threads) + ["--access-log"]
        worker = [sys.executable, "-c", "from regulars.cli import main; main()", "worker"]
        self.stdout.write(f"Serving on http://{host}:{port}/ (Ctrl+C stops)")
        if no_worker:
            sys.stdout.flush()
            os.execv(granian, web)
        self.stdout.write("Background worker: on (regulars worker)")
        sys.stdout.flush()
        sys.exit(supervise([web, worker]))


def supervise(commands: list[list[str]]) -> int:
    """Run the commands side by side; when one ends or a stop signal comes, stop them all.

    Returns the exit code of the first to end (0 when stopped by a signal).
    """
    children = [subprocess.Popen(command) for command in commands]
    stopping = False

    def stop(signum, _frame):
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        while not stopping:
            ended = [c for c in children if c.poll() is not None]
            if ended:
                code = ended[0].returncode
                break
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if stopping else code


def web_server(granian: str, host: str, port: int, workers: int, threads: int) -> list[str]:
    """The granian command line serving Regulars (also what bench/ledger measures).

    granian's HTTP handling is Rust; each worker process runs the Django app in `threads`
    Python threads. Measured on the 2-core machine with bench/ledger: 2 workers × 2 threads
    answered a third more purchases a second than gunicorn's 2 × 4 gthread workers.
    """
    return [
        granian, "--interface", "wsgi", "--host", host, "--port", str(port),
        "--workers", str(workers), "--blocking-threads", str(threads),
        "--runtime-threads", "1", "--workers-kill-timeout", "10", "--log-level", "warning",
        "regulars.wsgi:application",
    ]  # fmt: skip
