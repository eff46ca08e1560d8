"""Supervising the node process from a Celery task on the ``node`` queue.

``supervise(trader_id)`` runs in the solo-pool worker's main thread:

* takes the Redis lock ``ni:node:<trader_id>:lock`` (SET NX with a TTL it keeps
  extending) so one trader id has one supervisor, whichever worker runs it;
* spawns ``python -m trading.node.main`` as a child with its own main thread,
  in its own process group, with ``PR_SET_PDEATHSIG`` so the kernel stops it
  even if this worker is SIGKILLed (and the child also watches its parent);
* restarts the child when it exits or its heartbeat goes missing
  (``HEARTBEAT_TIMEOUT``), with a growing back-off; a child that exits with
  the config-error code is not retried until someone asks;
* obeys requests pushed on ``ni:node:<trader_id>:control`` (start/stop/restart)
  and the desired state key;
* returns when the worker shuts down (``request_shutdown`` from Celery's
  ``worker_shutting_down`` signal): stops the child, waits for it, releases
  the lock. No orphan is left behind.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import redis
from django.conf import settings

from trading.node.state import control_key, desired_key, lock_key, node_state_set
from trading.node.status import node_key

logger = logging.getLogger(__name__)

LOCK_TTL_MS = 15_000
HEARTBEAT_TIMEOUT = 5.0
START_GRACE = 60.0  # seconds a starting child may take before its first heartbeat
STOP_TIMEOUT = 20.0
EXIT_CONFIG = 2

_shutdown = threading.Event()

_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


def request_shutdown() -> None:
    """Called from the worker's shutdown signal handler: stop the child and return."""
    _shutdown.set()


def _state(trader_id: str, state: str, reason: str) -> None:
    # Stopping must proceed even when Redis is down.
    try:
        node_state_set(trader_id, state, reason=reason)
    except Exception:
        logger.warning("could not record node state %s", state, exc_info=True)


def _set_pdeathsig() -> None:
    # Linux: deliver SIGTERM to the child when the thread that forked it dies.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Supervisor:
    def __init__(self, trader_id: str, *, config_path: str | None = None):
        self.trader_id = trader_id
        self.config_path = config_path or str(settings.NAUTILUS_CONFIG_PATH)
        self.token = uuid.uuid4().hex
        # Its own connection: BLPOP blocks longer than the shared pool's socket timeout allows.
        self.client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=5)
        self.child: subprocess.Popen | None = None
        self.child_started = 0.0
        self.restarts = 0
        self.backoff = 1.0
        self.next_start = 0.0
        self.config_failed = False

    # -- lock ------------------------------------------------------------------------------------

    def acquire(self) -> bool:
        return bool(self.client.set(lock_key(self.trader_id), self.token, nx=True, px=LOCK_TTL_MS))

    def extend(self) -> bool:
        if self.client.eval(_EXTEND, 1, lock_key(self.trader_id), self.token, LOCK_TTL_MS):
            return True
        # The key is gone (e.g. Redis restarted empty): take it again unless someone else did.
        return self.acquire()

    def release(self) -> None:
        try:
            self.client.eval(_RELEASE, 1, lock_key(self.trader_id), self.token)
        except Exception:
            logger.warning("could not release the node lock", exc_info=True)

    # -- child -----------------------------------------------------------------------------------

    def start_child(self) -> None:
        log_dir = Path(settings.LOG_DIR)
        log = open(log_dir / f"node-{self.trader_id}.log", "ab")
        self.client.hdel(node_key(self.trader_id), "heartbeat")
        node_state_set(
            self.trader_id,
            "starting",
            reason="spawning the node process",
            supervisor_pid=os.getpid(),
            restarts=self.restarts,
        )
        self.child = subprocess.Popen(
            [sys.executable, "-m", "trading.node.main", "--config", self.config_path],
            cwd=settings.BASE_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_set_pdeathsig,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log.close()
        self.child_started = time.monotonic()
        logger.info("node %s started as pid %s", self.trader_id, self.child.pid)

    def stop_child(self, reason: str) -> None:
        if self.child is None:
            return
        if self.child.poll() is None:
            _state(self.trader_id, "stopping", reason=reason)
            self.child.send_signal(signal.SIGTERM)
            try:
                self.child.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                logger.error("node %s ignored SIGTERM for %ss; killing it", self.trader_id, STOP_TIMEOUT)
                os.killpg(self.child.pid, signal.SIGKILL)
                self.child.wait(timeout=10)
        self.child = None
        _state(self.trader_id, "stopped", reason=reason)

    def _heartbeat_age(self) -> float | None:
        raw = self.client.hget(node_key(self.trader_id), "heartbeat")
        return None if raw is None else time.time() - float(raw)

    def check_child(self) -> None:
        """Restart a child that died or stopped heart-beating."""
        if self.child is None:
            return
        code = self.child.poll()
        if code is not None:
            self.child = None
            if code == EXIT_CONFIG:
                self.config_failed = True
                logger.error("node %s has an invalid config; waiting for a start request", self.trader_id)
                return
            reason = f"node process exited with code {code}"
            node_state_set(self.trader_id, "failed", reason=f"{reason}; restarting")
            self._schedule_restart(reason)
            return
        age = self._heartbeat_age()
        since_start = time.monotonic() - self.child_started
        if (age is None and since_start > START_GRACE) or (
            age is not None and age > HEARTBEAT_TIMEOUT and since_start > HEARTBEAT_TIMEOUT
        ):
            reason = "heartbeat missing" if age is None else f"no heartbeat for {age:.1f}s"
            logger.error("node %s: %s; killing and restarting it", self.trader_id, reason)
            os.killpg(self.child.pid, signal.SIGKILL)
            self.child.wait(timeout=10)
            self.child = None
            node_state_set(self.trader_id, "failed", reason=f"{reason}; restarting")
            self._schedule_restart(reason)

    def _schedule_restart(self, reason: str) -> None:
        self.restarts += 1
        self.next_start = time.monotonic() + self.backoff
        self.backoff = min(self.backoff * 2, 30.0)
        self.client.hset(node_key(self.trader_id), mapping={"restarts": self.restarts, "last_restart_reason": reason})

    # -- control ---------------------------------------------------------------------------------

    def handle_request(self, raw: bytes) -> None:
        try:
            request = json.loads(raw)
        except ValueError:
            return
        action, by = request.get("action"), request.get("by") or "system"
        if action == "stop":
            self.stop_child(f"stopped by {by}")
        elif action == "restart":
            self.stop_child(f"restarting (requested by {by})")
            self.config_failed = False
            self.backoff, self.next_start = 1.0, 0.0
        elif action == "start":
            self.config_failed = False
            self.backoff, self.next_start = 1.0, 0.0

    def desired(self) -> str:
        raw = self.client.get(desired_key(self.trader_id))
        return raw.decode() if raw else "running"

    def tick(self) -> None:
        """One round of supervision (about once a second)."""
        if not self.extend():
            raise RuntimeError("lost the node lock to another supervisor")
        self.check_child()
        if (
            self.child is None
            and self.desired() == "running"
            and not self.config_failed
            and time.monotonic() >= self.next_start
        ):
            self.start_child()
        if self.child is not None and time.monotonic() - self.child_started > 60:
            self.backoff = 1.0  # it ran a while: the next failure restarts quickly again

    def run(self) -> str:
        if not self.acquire():
            return "already supervised"
        logger.info("supervising node %s", self.trader_id)
        # The event bridge runs beside the supervisor: exactly one per trader id (it holds
        # the same lock), outside the node's event loop, with database access.
        from trading.bridge import bridge_run

        bridge_stop = threading.Event()
        bridge = threading.Thread(
            target=bridge_run,
            args=(bridge_stop,),
            kwargs={"trader_id": self.trader_id, "consumer": "bridge"},
            name="event-bridge",
            daemon=True,
        )
        bridge.start()
        try:
            self.client.delete(control_key(self.trader_id))
            while not _shutdown.is_set():
                try:
                    self.tick()
                    # Wait for a control request, a second at most; shutdown interrupts within that second.
                    reply = self.client.blpop([control_key(self.trader_id)], timeout=1)
                except redis.RedisError:
                    # Redis is down: the node keeps running on its own; try again shortly.
                    logger.warning("node supervisor: Redis unavailable", exc_info=True)
                    _shutdown.wait(1.0)
                    continue
                if reply and not _shutdown.is_set():
                    self.handle_request(reply[1])
            return "worker shutting down"
        finally:
            self.stop_child("node worker shut down" if _shutdown.is_set() else "supervisor stopped")
            # After the child stopped: its last events are in the stream; drain what we can.
            bridge_stop.set()
            bridge.join(timeout=10)
            self.release()
