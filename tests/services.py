"""Real services for the test suite, started before Django reads its settings.

Loaded with ``-p tests.services`` (see pyproject.toml), so it runs before
pytest-django evaluates ``config.settings``. It starts a Redis server that
belongs to this test run alone, on a free loopback port, and points
``REDIS_URL`` at it: tests may stop and restart it (to prove the desk notices)
without touching the Redis that ``make run`` uses. PostgreSQL is the machine's
cluster; pytest-django creates and drops the test database in it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The test run's private Neo4j (started only when a collected test needs it).
pytest_plugins = ["tests.neo4j_service"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, *, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


class RedisServer:
    """A throwaway redis-server; ``stop()``/``start()`` keep the same port and data dir."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="ni-test-redis-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _load_env_file() -> None:
    # The same file config/settings.py reads; loaded here so the test run can
    # override REDIS_URL before settings see it.
    from dotenv import load_dotenv

    load_dotenv(ROOT / "config" / ".env", override=False)


_load_env_file()
REDIS = RedisServer()
REDIS.start()
atexit.register(REDIS.close)
os.environ["REDIS_URL"] = REDIS.url
# The node and other child processes find the test Redis through this too.
os.environ.setdefault("TEST_DATABASE_NAME", "test_nautilus")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# Metrics of this run's processes only (prometheus multiprocess files).
_METRICS_DIR = tempfile.mkdtemp(prefix="ni-test-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _METRICS_DIR
atexit.register(shutil.rmtree, _METRICS_DIR, True)
