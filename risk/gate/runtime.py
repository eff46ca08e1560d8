"""One gate runtime per process: the live snapshot, kept current.

A daemon thread subscribes to the gate channel (``risk.gate.events``) and applies
each change to the snapshot as it arrives (kill switch, position, balance), or
reloads everything from PostgreSQL + Redis when a change needs the database
(limits, correlations), when the periodic refresh is due, and after the
subscription reconnects (messages may have been missed). All snapshot writes
happen on that one thread, so a reload and an incremental update never
interleave; readers (the hot path) never lock.

While the subscription is down the runtime reports ``connected = False`` and the
gate rejects every order: a gate that may have missed a kill switch must not
approve.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from decimal import Decimal

from django.conf import settings

from risk.gate.events import GATE_CHANNEL
from risk.gate.snapshot import GateSnapshot

logger = logging.getLogger(__name__)


def refresh_seconds() -> float:
    return float(getattr(settings, "RISK_GATE_REFRESH_SECONDS", 2))


def max_snapshot_age() -> float:
    return float(getattr(settings, "RISK_GATE_MAX_SNAPSHOT_AGE", 10))


def _limits_key(snap: GateSnapshot) -> tuple:
    return tuple(sorted((r.id, r.version, r.value, r.scope, str(r.target)) for r in snap.limits.values()))


def _sectors(snap: GateSnapshot) -> dict[str, int]:
    return {iid: inst.sector_id for iid, inst in snap.instruments.items()}


_gc_frozen_pid: int | None = None


def gc_freeze_once() -> None:
    """Move every object alive now into the collector's permanent generation, once per process.

    Why: the gate's budget (p99 100 µs) is far below one full collection of a Django +
    Nautilus process, which scans every tracked object (hundreds of thousands) holding the
    GIL for tens of milliseconds, whichever thread triggers it. By the first snapshot load
    nearly all of them are import-time state (modules, classes, Django's and Nautilus's
    registries) that lives as long as the process; frozen, they are never scanned again,
    and a full collection walks only what was allocated since (compiled RuleSets, the
    current snapshot). ``gc.collect()`` first, so no garbage gets frozen. Once, not on every
    reload: frozen objects are still freed by reference counting (snapshots hold no reference
    cycles), but a cycle among frozen objects would never be collected.
    """
    global _gc_frozen_pid
    if _gc_frozen_pid == os.getpid():
        return
    gc.collect()
    gc.freeze()
    _gc_frozen_pid = os.getpid()


class GateRuntime:
    def __init__(self, *, loader: Callable[[], GateSnapshot] | None = None, refresh: float | None = None) -> None:
        from risk.gate.loader import snapshot_load

        self.loader = loader or snapshot_load
        self.refresh = refresh if refresh is not None else refresh_seconds()
        self.snapshot: GateSnapshot | None = None
        self.connected = False
        self.last_error: str = ""
        self.messages = 0
        self.reloads = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()
        # Set whenever a message was applied; tests and benchmarks wait on it.
        self.changed = threading.Condition()

    # -- lifecycle --------------------------------------------------------------
    def start(self, *, wait: float = 5.0) -> GateRuntime:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="risk-gate-runtime", daemon=True)
            self._thread.start()
        self.ready.wait(wait)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def install(self, snapshot: GateSnapshot) -> None:
        """Serve ``snapshot`` with no thread and no channel (a benchmark's in-memory desk): the
        same first-load steps as ``reload``, and connected as if the channel were up."""
        gc_freeze_once()
        self.snapshot = snapshot
        self.connected = True
        self.ready.set()

    def reload(self) -> None:
        from django.db import close_old_connections

        close_old_connections()
        try:
            fresh = self.loader()
            old = self.snapshot
            # Compiled RuleSets depend on the limits, the correlated groups and the instruments'
            # sectors only: while none of them changed, they carry over to the fresh snapshot.
            if old is not None and old.correlations == fresh.correlations:
                fresh.groups = old.groups
                if _limits_key(old) == _limits_key(fresh) and _sectors(old) == _sectors(fresh):
                    fresh.limit_cache = old.limit_cache
            if old is None:
                gc_freeze_once()
            self.snapshot = fresh
            self.reloads += 1
            self.last_error = ""
        except Exception as exc:
            # Keep the old snapshot: it ages past the bound and the gate rejects.
            self.last_error = f"snapshot load failed: {exc}"
            logger.exception("risk gate snapshot load failed")
        finally:
            close_old_connections()

    # -- the thread ---------------------------------------------------------------------
    def _run(self) -> None:
        from monitoring.redis_client import redis_client

        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = redis_client().pubsub(ignore_subscribe_messages=False)
                pubsub.subscribe(GATE_CHANNEL)
                # Subscribe first, then load: nothing published after the load began is lost.
                first = pubsub.get_message(timeout=2.0)
                if not first or first.get("type") != "subscribe":
                    raise ConnectionError("no subscribe confirmation")
                self.reload()
                self.connected = True
                self.ready.set()
                next_refresh = time.monotonic() + self.refresh
                while not self._stop.is_set():
                    msg = pubsub.get_message(timeout=min(0.5, self.refresh))
                    if msg and msg.get("type") == "message":
                        self._apply(msg["data"])
                    if time.monotonic() >= next_refresh:
                        self.reload()
                        next_refresh = time.monotonic() + self.refresh
            except Exception as exc:
                self.connected = False
                self.last_error = f"gate channel down: {exc}"
                logger.warning("risk gate channel down: %s", exc)
                self.ready.set()
                self._stop.wait(0.5)  # back off before reconnecting
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        pass
        self.connected = False
        from django.db import connections

        connections.close_all()  # this thread's connections only

    def _apply(self, raw: bytes) -> None:
        try:
            msg = json.loads(raw)
            kind = msg.get("type")
            snap = self.snapshot
            if kind == "kill_switch" and snap is not None:
                snap.apply_kill_switch(
                    scope=msg["scope"],
                    target=msg.get("target"),
                    engaged=bool(msg["engaged"]),
                    mode=msg.get("mode", "halt"),
                    reason=msg.get("reason", ""),
                )
            elif kind == "position" and snap is not None and msg.get("instrument_pk") in snap.instruments_by_pk:
                snap.apply_position(
                    account=msg["account"],
                    instrument_id=snap.instruments_by_pk[msg["instrument_pk"]],
                    strategy=msg.get("strategy"),
                    quantity=Decimal(msg["quantity"]),
                    avg_price=Decimal(msg["avg_price"]),
                    realized_pnl=Decimal(msg["realized_pnl"]),
                )
            elif kind == "balance" and snap is not None:
                snap.apply_balance(
                    account=msg["account"],
                    currency=msg["currency"],
                    total=Decimal(msg["total"]),
                    locked=Decimal(msg["locked"]),
                )
            else:
                self.reload()
            self.messages += 1
        except Exception:
            logger.exception("risk gate could not apply a channel message; reloading")
            self.reload()
        with self.changed:
            self.changed.notify_all()


_runtime: GateRuntime | None = None
_runtime_pid: int | None = None
_runtime_lock = threading.Lock()


def gate_runtime() -> GateRuntime:
    """The process's runtime, started on first use (and again after a fork)."""
    global _runtime, _runtime_pid
    with _runtime_lock:
        if _runtime is None or _runtime_pid != os.getpid():
            _runtime = GateRuntime().start()
            _runtime_pid = os.getpid()
        return _runtime
