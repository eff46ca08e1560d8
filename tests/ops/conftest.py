from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.services import ROOT, free_port


def poll(fn: Callable[[], Any], *, timeout: float, interval: float = 0.2, what: str = "condition") -> Any:
    """Call ``fn`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout}s (last value: {last!r})")


def closed_postgres_url() -> str:
    """A PostgreSQL URL on a loopback port where nothing listens."""
    return f"postgresql://nautilus:nautilus@127.0.0.1:{free_port()}/nowhere"


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def redis_conn(redis_server):
    import redis

    return redis.Redis.from_url(redis_server.url)


def http_get(url: str, *, timeout: float = 15) -> tuple[int, str]:
    """GET with the standard library: (status, body) for 2xx-5xx alike."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
