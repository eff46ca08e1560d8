"""From the node's event loop to Redis and open pages, without ever blocking the loop.

``QuoteBridgeActor`` lives inside the node: it subscribes to every cached
instrument's quotes and trades and, per tick, only appends a tuple to a list
under a lock. ``MarketDataPublisher`` is a thread with its own asyncio loop
that drains that list every ``flush_interval_ms``: it feeds the quality
monitor, writes the latest quote per instrument to ``ni:quotes`` (conflated:
one HSET per instrument per flush, whatever the tick rate), publishes a batch
for the pages' "quotes" topic with at most ``broadcast_max_per_second`` updates
per instrument (``trading.market_data.fanout``), and once a second writes
``ni:feeds``, ``ni:feed:instruments`` and the node heartbeat. A slow Redis or
browser slows this thread, never the node.

The heartbeat is only written while the event loop keeps ticking
(``loop_alive`` is stamped by a loop callback), so a wedged node stops
heart-beating even though this thread is fine.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import threading
import time
from collections import deque
from decimal import Decimal

from nautilus_trader.common.actor import Actor
from nautilus_trader.config import ActorConfig

from monitoring.broadcast import apublish
from monitoring.redis_client import redis_client
from trading.market_data.fanout import QUOTES_CHANNEL, quotes_frame
from trading.market_data.quality import FeedMonitor
from trading.market_data.quotes import FEEDS_KEY, QUOTES_KEY
from trading.node.config import MarketDataSettings
from trading.node.state import heartbeat, node_state_set
from trading.node.status import node_status

logger = logging.getLogger(__name__)

INSTRUMENT_FEEDS_KEY = "ni:feed:instruments"
# Every quote of the last few seconds, for the live candles of the instrument page.
TICKS_KEY = "ni:ticks:{instrument_id}"
TICKS_KEEP = 2000
# Issues stay in ni:feeds this long, so the beat task (every few seconds) sees them.
ISSUE_WINDOW = 60.0
DAY_NS = 86_400 * 1_000_000_000


class Sink:
    """The hand-off between the loop and the publisher thread (append-only under a lock)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.quotes: list[tuple] = []
        self.trades: dict[str, str] = {}
        self.event = threading.Event()

    def put_quote(self, item: tuple) -> None:
        with self.lock:
            self.quotes.append(item)
        self.event.set()

    def put_trade(self, instrument_id: str, price: str) -> None:
        with self.lock:
            self.trades[instrument_id] = price

    def drain(self) -> tuple[list[tuple], dict[str, str]]:
        with self.lock:
            quotes, self.quotes = self.quotes, []
            trades, self.trades = self.trades, {}
            self.event.clear()
        return quotes, trades


class QuoteBridgeConfig(ActorConfig, frozen=True, kw_only=True):
    component_id: str = "QuoteBridge"


class QuoteBridgeActor(Actor):
    def __init__(self, sink: Sink, on_started=None):
        super().__init__(QuoteBridgeConfig())
        self._sink = sink
        self._on_started = on_started
        self._venues: dict[str, str] = {}

    def on_start(self) -> None:
        for instrument in self.cache.instruments():
            self._venues[str(instrument.id)] = str(instrument.id.venue)
            self.subscribe_quote_ticks(instrument.id)
            self.subscribe_trade_ticks(instrument.id)
        if self._on_started:
            self._on_started()

    def on_stop(self) -> None:
        # Subscriptions end with the node; nothing to hand back.
        return None

    def on_quote_tick(self, tick) -> None:
        iid = str(tick.instrument_id)
        self._sink.put_quote((iid, str(tick.bid_price), str(tick.ask_price), tick.ts_event, self._venues.get(iid, "")))

    def on_trade_tick(self, tick) -> None:
        self._sink.put_trade(str(tick.instrument_id), str(tick.price))


class MarketDataPublisher(threading.Thread):
    def __init__(self, *, trader_id: str, sink: Sink, settings: MarketDataSettings, extra_heartbeat=None):
        super().__init__(name="market-data-publisher", daemon=True)
        self.trader_id = trader_id
        self.sink = sink
        self.settings = settings
        self.monitor = FeedMonitor(stale_after_s=settings.stale_after_seconds, max_gap_s=settings.stale_after_seconds)
        self.loop_alive = time.time()
        self.running = False  # the trader reached RUNNING
        self.started_at: float | None = None
        self.stop_event = threading.Event()
        self.parent_pid = os.getppid()
        self._last_broadcast: dict[str, float] = {}
        self._pending: dict[str, dict] = {}
        self._last: dict[str, dict] = {}
        self._extra_heartbeat = extra_heartbeat or (lambda: {})
        self.published = 0
        self._issues: deque = deque(maxlen=1000)
        self._open: dict[str, tuple[int, str]] = {}

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        interval = self.settings.flush_interval_ms / 1000
        next_second = 0.0
        while not self.stop_event.is_set():
            # Wait for data, but never longer than a second (the heartbeat must go on),
            # nor past the next flush while updates held back by the rate limit are pending.
            self.sink.event.wait(timeout=interval if self._pending else 0.5)
            started = time.monotonic()
            try:
                self._flush()
                if started >= next_second:
                    next_second = started + 1.0
                    await self._every_second()
            except Exception:
                logger.warning("market data publish failed; retrying", exc_info=True)
                self.stop_event.wait(0.5)
            spent = time.monotonic() - started
            if spent < interval:
                self.stop_event.wait(interval - spent)

    def _flush(self) -> None:
        quotes, trades = self.sink.drain()
        changed = self._changes(quotes, trades)
        self._last.update(changed)
        self._pending.update(changed)
        batch = self._due_batch()
        if not changed and not batch:
            return
        # One round trip per flush: the latest quotes, the tick history and the
        # pages' frame (encoded once here, fanned out per web process by
        # trading.market_data.fanout) travel in the same pipeline.
        pipe = redis_client().pipeline(transaction=False)
        if changed:
            pipe.hset(QUOTES_KEY, mapping={iid: json.dumps(q) for iid, q in changed.items()})
        for iid, q in changed.items():
            key = TICKS_KEY.format(instrument_id=iid)
            pipe.rpush(key, f"{q['ts']} {q['bid']} {q['ask']}")
            pipe.ltrim(key, -TICKS_KEEP, -1)
        if batch:
            pipe.publish(QUOTES_CHANNEL, quotes_frame(batch, sent_ns=time.time_ns()))
        pipe.execute()
        self.published += len(batch)

    def _changes(self, quotes: list[tuple], trades: dict[str, str]) -> dict[str, dict]:
        """The latest state of every instrument that ticked since the last flush (conflated)."""
        changed: dict[str, dict] = {}
        day = time.time_ns() // DAY_NS
        for iid, bid, ask, ts, source in quotes:
            self.monitor.observe(instrument_id=iid, source=source, bid=Decimal(bid), ask=Decimal(ask), ts_ns=ts)
            prev = self._last.get(iid)
            # "open" is the first mid of the UTC day: the Markets page's change is measured from it.
            if iid not in self._open or self._open[iid][0] != day:
                self._open[iid] = (day, str((Decimal(bid) + Decimal(ask)) / 2))
            changed[iid] = {
                "bid": bid,
                "ask": ask,
                "last": prev["last"] if prev else None,
                "ts": ts,
                "source": source,
                "open": self._open[iid][1],
            }
        for iid, price in trades.items():
            if iid in changed:
                changed[iid]["last"] = price
            elif iid in self._last:
                changed[iid] = {**self._last[iid], "last": price}
        return changed

    def _due_batch(self) -> list[dict]:
        """Pending updates of instruments not pushed within the last ``1/broadcast_max_per_second``."""
        now = time.monotonic()
        min_gap = 1.0 / self.settings.broadcast_max_per_second
        due = [iid for iid in self._pending if now - self._last_broadcast.get(iid, 0) >= min_gap]
        for iid in due:
            self._last_broadcast[iid] = now
        return [{"instrument_id": iid, **self._pending.pop(iid)} for iid in due]

    async def _every_second(self) -> None:
        now_ns = time.time_ns()
        now = time.time()
        self._issues.extend((now, i) for i in self.monitor.drain_issues())
        while self._issues and now - self._issues[0][0] > ISSUE_WINDOW:
            self._issues.popleft()
        client = redis_client()
        sources = self.monitor.source_report(now_ns, [i for _, i in list(self._issues)[-50:]])
        instruments = self.monitor.instrument_report(now_ns)
        pipe = client.pipeline(transaction=False)
        if sources:
            pipe.hset(FEEDS_KEY, mapping={s: json.dumps(v) for s, v in sources.items()})
        if instruments:
            pipe.hset(INSTRUMENT_FEEDS_KEY, mapping={i: json.dumps(v) for i, v in instruments.items()})
        pipe.execute()
        loop_ok = time.time() - self.loop_alive < 3.0
        if loop_ok:
            fields = self._extra_heartbeat()
            if self.running and self.started_at is not None and not self.stop_event.is_set():
                # Restated every beat, so a Redis that restarted empty learns the state again.
                fields.update(state="running", started_at=str(self.started_at), reason="")
            heartbeat(self.trader_id, pid=str(os.getpid()), **fields)
        if self.running and self.started_at is None:
            self.started_at = time.time()
            node_state_set(self.trader_id, "running", push=False, started_at=self.started_at, pid=os.getpid())
            await apublish("node", "state", node_status(self.trader_id).as_dict())
        if os.getppid() != self.parent_pid:
            # The supervisor is gone (it normally kills us first): stop rather than run unsupervised.
            logger.error("supervisor %s vanished; stopping the node", self.parent_pid)
            os.kill(os.getpid(), signal.SIGTERM)
