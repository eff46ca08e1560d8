"""Real delivery targets for the alerting tests: an HTTP webhook server and an SMTP server, each in a thread."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.services import free_port


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class WebhookServer:
    """Records every POST body; ``hang`` makes it hold each request until released."""

    def __init__(self, *, hang: bool = False) -> None:
        self.received: list[dict] = []
        self.hang = hang
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if server.hang:
                    server.release.wait(60)
                    return
                server.received.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class MailSink:
    """aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list[dict] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "data": envelope.content.decode("utf-8", "replace"),
            }
        )
        return "250 Message accepted for delivery"


@pytest.fixture
def webhook_server():
    server = WebhookServer()
    yield server
    server.close()


@pytest.fixture
def hanging_webhook():
    server = WebhookServer(hang=True)
    yield server
    server.close()


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    sink.host, sink.port = controller.hostname, controller.port
    yield sink
    controller.stop()


@pytest.fixture
def alert_worker(transactional_db, smtp_server):
    """A real default-queue worker (two threads) whose email goes to the test SMTP server."""
    from tests.processes import child_env, start_celery_worker

    env = child_env(
        EMAIL_HOST=smtp_server.host,
        EMAIL_PORT=str(smtp_server.port),
        ALERT_WEBHOOK_TIMEOUT="20",
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
    )
    proc = start_celery_worker("alerts-test", "default", pool="threads", extra=["--concurrency", "3"], env=env)
    yield proc
    proc.stop()
