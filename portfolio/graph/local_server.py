"""A local Neo4j process from the launcher in deploy/neo4j, for tests and benchmarks.

``make run`` starts its long-lived server through ``deploy/local/neo4j.sh``; the
test suite and the graph benchmark start a private one on a free loopback port
with a throwaway data directory, so they never touch the graph ``make run``
uses. The launcher prints ``READY bolt://...`` once Bolt accepts connections.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "local" / "neo4j.sh"
LAUNCHER_DIR = ROOT / "var" / "neo4j-launcher"
# Neo4j's page cache and heap stay small: the graph is a projection and the
# machine is shared with PostgreSQL, Redis, Celery and the Nautilus node. The heap
# is fixed: growing it from 64 MB cost a dozen full collections during the bulk
# projection of the benchmark. (C1-only compilation halves a fresh JVM's CPU for
# that projection but doubles the cluster query's; the desk's server is long-lived,
# so C2 stays, as in deploy/local/neo4j.sh.)
JAVA_OPTS = ["-Xms512m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError"]
# A fresh JVM spends most of its first full projection compiling Neo4j (the JIT threads
# used more CPU than the queries); the server ``make run`` starts (deploy/local/neo4j.sh)
# runs this many benchmark-sized projections into a scratch DBMS once it is up (the
# launcher's --warm-up-rounds, in the background), so within a couple of minutes of a
# start the desk's resyncs run on compiled code. Tests skip it.
DESK_WARM_UP_ROUNDS = 3
START_TIMEOUT = 180.0
WARM_UP_TIMEOUT = 240.0  # per round, on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launcher_build() -> None:
    """Build the launcher once (Maven, cached under var/neo4j-launcher); a no-op when it is current."""
    subprocess.run([str(SCRIPT), "build"], cwd=ROOT, check=True)


class LocalNeo4j:
    """One launcher JVM; ``stop()``/``start()`` keep the port and the data directory."""

    def __init__(
        self,
        *,
        port: int | None = None,
        home: Path | None = None,
        password: str | None = None,
        warm_up_rounds: int = 0,
    ):
        self.port = port or free_port()
        self.warm_up_rounds = warm_up_rounds
        self.home = home or Path(tempfile.mkdtemp(prefix="ni-neo4j-"))
        self.password = password
        self.proc: subprocess.Popen | None = None
        self.log_path = self.home / "launcher.log"

    @property
    def url(self) -> str:
        auth = f"neo4j:{self.password}@" if self.password else ""
        return f"bolt://{auth}127.0.0.1:{self.port}"

    def spawn(self) -> None:
        """Start the JVM without waiting for it (see ``wait_ready``)."""
        if self.running:
            return
        argv = [
            shutil.which("java") or "java",
            *JAVA_OPTS,
            "-cp",
            f"{LAUNCHER_DIR / 'classes'}{os.pathsep}{LAUNCHER_DIR / 'lib' / '*'}",
            "desk.neo4j.Launcher",
            "--home",
            str(self.home),
            "--port",
            str(self.port),
            "--parent-pid",
            str(os.getpid()),
        ]
        if self.password:
            argv += ["--password", self.password]
        if self.warm_up_rounds:
            argv += ["--warm-up-rounds", str(self.warm_up_rounds)]
        self.home.mkdir(parents=True, exist_ok=True)
        # wait_ready() must find this run's READY line, not a previous run's.
        self.log_path.unlink(missing_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def wait_ready(self, timeout: float | None = None) -> None:
        self._wait_for_line(f"READY bolt://127.0.0.1:{self.port}", timeout or START_TIMEOUT, "ready")

    def wait_warmed(self) -> None:
        """Wait for the launcher's background JIT warm-up (``--warm-up-rounds``) to finish."""
        self._wait_for_line("WARMED ", WARM_UP_TIMEOUT * max(self.warm_up_rounds, 1), "warmed up")

    def _wait_for_line(self, marker: str, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"Neo4j launcher exited before it was {what}; see {self.log_path}")
            text = self.log_path.read_text(errors="replace")
            if marker in text:
                return
            if "WARM-UP FAILED" in text and marker.startswith("WARMED"):
                raise RuntimeError(f"Neo4j's JIT warm-up failed; see {self.log_path}")
            time.sleep(0.1)
        raise TimeoutError(f"Neo4j was not {what} on port {self.port} within {timeout:.0f}s; see {self.log_path}")

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)
