"""Start the desk's real processes (daphne, Celery workers) against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from tests.services import ROOT, free_port, wait_for_port

LOG_DIR = ROOT / "test-artifacts" / "logs"


def test_database_url() -> str:
    db = settings.DATABASES["default"]
    host = f"{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"
    return f"postgresql://{db['USER']}:{db['PASSWORD']}@{host}/{connection.settings_dict['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=test_database_url(),
        REDIS_URL=os.environ["REDIS_URL"],
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONUNBUFFERED="1",
    )
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(extra)
    return env


class ManagedProcess:
    # Every process started by this test run, so a failing test can show what they logged.
    started: list[ManagedProcess] = []

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str] | None = None):
        self.name = name
        self.argv = argv
        self.env = env or child_env()
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path: Path = LOG_DIR / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> ManagedProcess:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        ManagedProcess.started.append(self)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, since: float, lines: int = 40) -> str:
        """The last ``lines`` unindented log lines, if the log was written after ``since`` (epoch s)."""
        if not self.log_path.exists() or self.log_path.stat().st_mtime < since:
            return ""
        with self.log_path.open("rb") as f:
            f.seek(max(0, self.log_path.stat().st_size - 200_000))
            text = f.read().decode(errors="replace")
        # Traceback frames (indented) crowd out the lines that say what happened.
        kept = [line[:240] for line in text.splitlines() if line.strip() and not line[:1].isspace()]
        return "\n".join(kept[-lines:])


def start_daphne(name: str = "daphne") -> tuple[ManagedProcess, str]:
    port = free_port()
    proc = ManagedProcess(
        name,
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
    ).start()
    wait_for_port(port, timeout=30)
    return proc, f"http://127.0.0.1:{port}"


def start_celery_worker(
    name: str,
    queues: str = "default",
    *,
    pool: str = "solo",
    extra: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> ManagedProcess:
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-Q",
        queues,
        "-n",
        f"{name}@%h",
        "--pool",
        pool,
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        *(extra or []),
    ]
    proc = ManagedProcess(name, argv, env=env).start()
    wait_for_worker(f"{name}@")
    return proc


def wait_for_worker(prefix: str, timeout: float = 60) -> None:
    from config.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # A fresh connection: pooled ones are dead after a test restarted Redis.
        with app.connection_for_write() as connection:
            replies = app.control.ping(timeout=0.5, connection=connection) or []
        if any(name.startswith(prefix) for reply in replies for name in reply):
            return
    raise TimeoutError(f"Celery worker {prefix}* did not answer a ping within {timeout}s")
