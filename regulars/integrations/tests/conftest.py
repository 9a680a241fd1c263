"""A real webhook receiver on 127.0.0.1 that checks signatures like an integrator would."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    """Answers POSTs with the scripted status codes (the last one repeats) and records them.

    The status "slow" answers 200 after half a second (for timeout tests).

    A request whose Regulars-Signature does not verify with `secret` gets 400 and is recorded
    with valid=False, so a signing bug shows up as failed deliveries and in `requests`.
    """

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.secret = ""
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                valid, timestamp = receiver.verify(self.headers.get("Regulars-Signature", ""), body)
                receiver.requests.append(
                    {
                        "event": self.headers.get("Regulars-Event"),
                        "delivery": self.headers.get("Regulars-Delivery"),
                        "content_type": self.headers.get("Content-Type"),
                        "timestamp": timestamp,
                        "valid": valid,
                        "json": json.loads(body),
                    }
                )
                status = receiver.next_status() if valid else 400
                if status == "slow":
                    time.sleep(0.5)
                    status = 200
                reply = json.dumps({"seen": len(receiver.requests)}).encode()
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address) -> None:
                pass  # a client that gave up (timeout tests) is not a test failure

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/regulars"

    def next_status(self) -> int | str:
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def verify(self, header: str, body: bytes) -> tuple[bool, int | None]:
        """What docs/webhooks.md tells integrators to do."""
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        if "t" not in parts or "v1" not in parts:
            return False, None
        expected = hmac.new(
            self.secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(expected, parts["v1"]), int(parts["t"])


@pytest.fixture
def receiver():
    """receiver([500, 500, 200]) starts one; all are shut down at the end of the test."""
    started = []

    def start(statuses=(200,)) -> Receiver:
        r = Receiver(list(statuses))
        r.thread.start()
        started.append(r)
        return r

    yield start
    for r in started:
        r.server.shutdown()
        r.server.server_close()
        r.thread.join(timeout=5)


@pytest.fixture
def closed_port_url():
    """A URL on loopback where nothing listens: every attempt is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"
