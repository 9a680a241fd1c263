"""`regulars serve`: granian and a background worker side by side, stopped together."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

REGULARS = str(Path(sys.executable).with_name("regulars"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError(f"no {what} within {seconds} s")


def test_serve_answers_runs_the_nightly_jobs_in_its_worker_and_stops_cleanly(tmp_path):
    db = tmp_path / "db.sqlite3"
    env = {**os.environ, "REGULARS_VAR": str(tmp_path), "DATABASE_URL": f"sqlite:///{db}"}
    subprocess.run([REGULARS, "migrate", "-v", "0"], env=env, check=True, timeout=120)
    port = free_port()
    server = subprocess.Popen(
        [REGULARS, "serve", "--port", str(port), "--workers", "1", "--threads", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:

        def healthy():
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                connection.request("GET", "/healthz")
                return connection.getresponse().status == 200
            except OSError:
                return False

        wait_for(healthy, 60, "answer on /healthz")

        def jobs_done():
            with sqlite3.connect(db, timeout=5) as conn:
                rows = conn.execute(
                    "SELECT task_path, status FROM django_tasks_database_dbtaskresult"
                ).fetchall()
            done = {path for path, status in rows if status == "SUCCESSFUL"}
            return done if wanted <= done else None

        # The worker's scheduler enqueued the periodic jobs at start, and the worker ran them
        # (one after the other: wait for both, not only the first to finish).
        wanted = {"regulars.loyalty.tasks.expire_points", "regulars.loyalty.tasks.birthday_bonuses"}
        assert wait_for(jobs_done, 60, "periodic jobs run by the worker") >= wanted
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0]
    assert server.returncode == 0, output
    assert "Background worker: on" in output
    # Nothing is left behind: no process still holds the port.
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
