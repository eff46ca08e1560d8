"""The four header indicators (Nautilus, Risk Management, F8 Portfolio, Data Feeds).

Each indicator is the component's health check from ``monitoring.health.checks``
(the same one ``/health/<component>`` and ``setup --validate`` use), coloured
for the header: green, amber or red with a one-line detail for the tooltip.
Nothing here writes. A check that cannot read its state (Redis down, malformed
state) makes its indicator red with the reason: the desk must never show green
for a part it cannot see.

``desk_status()`` is synchronous and called from page views and, in a worker
thread, from the WebSocket status loop (``StatusHub``) that pushes the
indicators to open pages every ``settings.STATUS_PUSH_INTERVAL`` seconds. That
loop deliberately does not depend on the channel layer: when Redis dies the
channel layer dies with it, and the indicators must still turn red.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

GREEN, AMBER, RED, UNKNOWN = "green", "amber", "red", "unknown"


@dataclass(frozen=True)
class Indicator:
    key: str
    label: str
    level: str  # green | amber | red
    state: str  # the component's own word: running, active, synchronized, live, unreachable ...
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


# Header indicator -> (label, health check in monitoring.health.checks). The
# header, /health/<component> and ``setup --validate`` share those checks, so
# the desk has one opinion about each part; only the colour mapping is here.
COMPONENTS: dict[str, tuple[str, str]] = {
    "nautilus": ("Nautilus", "nautilus"),
    "risk": ("Risk Management", "risk_gate"),
    "portfolio": ("F8 Portfolio", "f8_integration"),
    "feeds": ("Data Feeds", "data_feeds"),
}

# The header colours by the component's own state where the health status is
# coarser than the desk needs: a halted kill switch is "degraded" to /health
# (the gate works, on purpose refusing) but red on a trader's screen, and a
# lagging reconciliation is amber here, not down.
STATE_LEVELS: dict[str, dict[str, str]] = {
    "risk_gate": {"active": GREEN, "reduce_only": AMBER, "stale": AMBER, "failing": RED, "halted": RED},
    "f8_integration": {"synchronized": GREEN, "lagging": AMBER, "diverged": RED},
    "data_feeds": {"live": GREEN, "stale": AMBER, "down": RED},
}
STATUS_LEVELS = {"ok": GREEN, "degraded": AMBER, "down": RED}

# Each indicator must come back within this many seconds; with Redis dead the
# readers fail in one 0.5 s connect timeout, so this is a backstop.
CHECK_DEADLINE = 3.0


def _indicator(key: str, result) -> Indicator:
    label, check = COMPONENTS[key]
    state = result.data.get("state") if isinstance(result.data, dict) else None
    if state is None:
        # The check raised before it could read a state (Redis unreachable, bad data).
        return Indicator(key, label, RED, "unreachable" if result.status == "down" else result.status, result.detail)
    level = STATE_LEVELS.get(check, {}).get(state) or STATUS_LEVELS.get(result.status, RED)
    return Indicator(key, label, level, str(state), result.detail)


def indicators() -> list[Indicator]:
    from monitoring.health.checks import run_checks

    results = run_checks([check for _, check in COMPONENTS.values()], deadline=CHECK_DEADLINE)
    return [_indicator(key, results[check]) for key, (_, check) in COMPONENTS.items()]


def kill_switch_summary() -> dict:
    """The kill-switch badge, from the database (the record; it outlives Redis)."""
    from risk.models import KillSwitch, Scope

    engaged = list(
        KillSwitch.objects.filter(engaged=True).select_related("account", "strategy", "instrument", "sector")
    )
    global_ks = next((k for k in engaged if k.scope == Scope.GLOBAL), None)
    if global_ks is not None:
        return {
            "level": RED if global_ks.mode == KillSwitch.Mode.HALT else AMBER,
            "label": "HALTED" if global_ks.mode == KillSwitch.Mode.HALT else "REDUCE ONLY",
            "detail": f"Global kill switch engaged ({global_ks.get_mode_display()}): {global_ks.reason}",
            "engaged": len(engaged),
        }
    if engaged:
        return {
            "level": AMBER,
            "label": f"{len(engaged)} SCOPED",
            "detail": "; ".join(f"{k.scope_label}: {k.get_mode_display()}" for k in engaged[:5]),
            "engaged": len(engaged),
        }
    return {"level": GREEN, "label": "OFF", "detail": "No kill switch engaged", "engaged": 0}


def desk_status() -> dict:
    """Everything the header shows, JSON-ready."""
    try:
        kill_switch = kill_switch_summary()
    except Exception as exc:
        kill_switch = {
            "level": RED,
            "label": "UNKNOWN",
            "detail": f"Cannot read the kill switch: {exc}",
            "engaged": None,
        }
    return {
        "indicators": [i.as_dict() for i in indicators()],
        "kill_switch": kill_switch,
        "at": time.time(),
    }


def placeholder_status() -> dict:
    """What the header shows before the first push arrives (page load never waits on Redis)."""
    return {
        "indicators": [
            Indicator(key, label, UNKNOWN, "connecting", "Waiting for the first status update").as_dict()
            for key, (label, _) in COMPONENTS.items()
        ],
        "kill_switch": {
            "level": UNKNOWN,
            "label": "…",
            "detail": "Waiting for the first status update",
            "engaged": None,
        },
        "at": None,
    }


# ---------------------------------------------------------------------------
# The per-process status loop behind the WebSocket "status" topic
# ---------------------------------------------------------------------------

Subscriber = Callable[[dict], Awaitable[None]]

# The status loop runs its (blocking) computation on this one thread: a slow
# Redis delays the next push rather than piling up threads.
_loop_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="desk-status-loop")


def _desk_status_in_loop_thread() -> dict:
    try:
        return desk_status()
    finally:
        # A connection held between pushes would outlive its socket's users and
        # block maintenance such as DROP DATABASE; one reconnect per push is cheap.
        connections.close_all()


class StatusHub:
    """One status loop per event loop, shared by every socket subscribed to "status".

    Computes ``desk_status()`` every ``STATUS_PUSH_INTERVAL`` seconds in a
    thread and awaits each subscriber's callback with it. A new subscriber gets
    the last result at once. The loop runs only while someone listens.
    """

    _hubs: dict[int, StatusHub] = {}

    def __init__(self) -> None:
        self.subscribers: set[Subscriber] = set()
        self.latest: dict | None = None
        self.task: asyncio.Task | None = None

    @classmethod
    def for_running_loop(cls) -> StatusHub:
        loop = asyncio.get_running_loop()
        hub = cls._hubs.get(id(loop))
        if hub is None or (hub.task is not None and hub.task.get_loop() is not loop):
            hub = cls._hubs[id(loop)] = cls()
        return hub

    async def subscribe(self, callback: Subscriber) -> None:
        self.subscribers.add(callback)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run(), name="desk-status-hub")
        elif self.latest is not None:
            await self._deliver(callback, self.latest)

    def unsubscribe(self, callback: Subscriber) -> None:
        self.subscribers.discard(callback)
        if not self.subscribers and self.task is not None:
            self.task.cancel()
            self.task = None

    async def _deliver(self, callback: Subscriber, status: dict) -> None:
        try:
            await callback(status)
        except Exception:
            # A socket that went away between the check and the send.
            logger.debug("status push to a closed socket", exc_info=True)
            self.subscribers.discard(callback)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = settings.STATUS_PUSH_INTERVAL
        while self.subscribers:
            started = loop.time()
            try:
                status = await loop.run_in_executor(_loop_thread, _desk_status_in_loop_thread)
            except Exception as exc:  # pragma: no cover - desk_status already contains its failures
                logger.exception("status computation failed")
                status = {"indicators": [], "kill_switch": {"level": RED, "label": "ERROR", "detail": str(exc)}}
            self.latest = status
            await asyncio.gather(*(self._deliver(cb, status) for cb in list(self.subscribers)))
            await asyncio.sleep(max(0.0, interval - (loop.time() - started)))
