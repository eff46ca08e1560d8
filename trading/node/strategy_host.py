"""Inside the node: desk strategies added to, and removed from, the RUNNING trader.

``StrategyHost`` is the node's Nautilus ``Controller`` (``TradingNodeConfig.controller``,
set by ``trading.node.builder``). A trader with a controller accepts
``add_strategy`` while it runs; without one Nautilus refuses ("Cannot add a
strategy to a running trader"). The desk's command stream is read by
``trading.node.desk_orders``, which hands the strategy commands to this
controller's message-bus endpoint on the event loop:

* ``deploy_strategy`` / ``resume_strategy`` — ``StrategyFactory.create(config)``;
  if the trader already holds that strategy id (a redeploy of a new version) the
  old instance is stopped and removed first; then ``add_strategy`` → ``start``.
  Other strategies are not touched.
* ``pause_strategy`` / ``stop_strategy`` — stop and remove the instance. Our
  strategies are deployed with ``close_positions_on_stop=False`` so they cancel
  their working orders and keep their positions; ``flatten`` (stop and flatten)
  first closes every open position of the strategy with market orders, which
  go through the desk gate like any strategy order (``trading.node.risk_hook``).

A resume creates a fresh instance rather than resuming the stopped one: its
``on_start`` subscribes to data and registers indicators again, which a
Nautilus ``resume()`` would not do.

What the node runs is written every second to the Redis hash
``ni:node:<trader_id>:strategies`` (order id tag → JSON state) from a writer
thread, never from the loop; the desk's Strategies pages read it.

This module imports Nautilus: only the node process loads it.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time

import redis
from nautilus_trader.config import ImportableStrategyConfig
from nautilus_trader.live.config import ControllerConfig
from nautilus_trader.model.identifiers import StrategyId
from nautilus_trader.trading.config import StrategyFactory
from nautilus_trader.trading.controller import Controller

logger = logging.getLogger(__name__)

ENDPOINT = "DeskStrategyHost.command"
COMMAND_TYPES = frozenset({"deploy_strategy", "stop_strategy", "pause_strategy", "resume_strategy"})
STATES_KEY = "ni:node:{trader_id}:strategies"
# Strategies of the desk carry the order id tag S<pk> (strategies.models.Strategy.order_id_tag).
DESK_TAG = re.compile(r"^S\d+$")


class StrategyHostConfig(ControllerConfig, kw_only=True, frozen=True):
    redis_url: str
    desk_trader_id: str
    states_interval_secs: float = 1.0


class StrategyHost(Controller):
    def __init__(self, trader, config: StrategyHostConfig) -> None:
        super().__init__(trader=trader, config=config)
        self._redis_url = config.redis_url
        self._key = STATES_KEY.format(trader_id=config.desk_trader_id)
        self._interval = config.states_interval_secs
        self._outbox: queue.Queue = queue.Queue()
        self._writer_thread: threading.Thread | None = None
        # order id tag -> what the desk asked for last (version, hash, error), merged into the states.
        self._desk: dict[str, dict] = {}

    # -- lifecycle -------------------------------------------------------------------------------
    def on_start(self) -> None:
        from datetime import timedelta

        self.msgbus.register(endpoint=ENDPOINT, handler=self.command)
        self._writer_thread = threading.Thread(target=self._writer, name="strategy-host-writer", daemon=True)
        self._writer_thread.start()
        self.clock.set_timer(
            "strategy-host-states", interval=timedelta(seconds=self._interval), callback=self._publish_states
        )
        self._publish_states()

    def on_stop(self) -> None:
        try:
            self.msgbus.deregister(endpoint=ENDPOINT, handler=self.command)
        except Exception:
            pass
        self._outbox.put(None)
        if self._writer_thread is not None:
            self._writer_thread.join(timeout=3)

    # -- commands (on the event loop) ---------------------------------------------------------------
    def command(self, entry) -> None:
        """One desk command (``trading.commands.StreamEntry``). Never raises: a failure is reported."""
        body = entry.body
        tag = str(body.get("order_id_tag", ""))
        desk = self._desk.setdefault(tag, {})
        desk.update(
            strategy=body.get("strategy"),
            version=body.get("version", desk.get("version")),
            spec_hash=body.get("spec_hash", desk.get("spec_hash")),
            requested=entry.type,
            requested_at=time.time(),
            error="",
        )
        try:
            if entry.type in ("deploy_strategy", "resume_strategy"):
                self._install(body)
            elif entry.type in ("stop_strategy", "pause_strategy"):
                self._remove(body, flatten=bool(body.get("flatten")) and entry.type == "stop_strategy")
            else:
                raise ValueError(f"unknown strategy command {entry.type}")
        except Exception as exc:
            desk["error"] = f"{type(exc).__name__}: {exc}"[:500]
            logger.exception("strategy command %s for %s failed", entry.type, tag)
        self._publish_states()

    def _find(self, strategy_id: str):
        wanted = StrategyId(strategy_id)
        for strategy in self._trader.strategies():
            if strategy.id == wanted:
                return strategy
        return None

    def _install(self, body: dict) -> None:
        config = ImportableStrategyConfig(**body["config"])
        strategy = StrategyFactory.create(config)
        existing = self._find(strategy.id.value)
        if existing is not None:
            # A redeploy: the new version replaces the old one; its positions stay with the id.
            self.remove_strategy(existing)
        self.create_strategy(strategy, start=True)
        logger.info("strategy %s added to the running trader (%s)", strategy.id.value, strategy.state.name)

    def _remove(self, body: dict, *, flatten: bool) -> None:
        strategy = self._find(str(body["strategy_id"]))
        if strategy is None:
            return  # already gone (a stop re-delivered after a crash, or never loaded)
        if flatten:
            instruments = {o.instrument_id for o in self.cache.orders_open(strategy_id=strategy.id)}
            for instrument_id in instruments:
                strategy.cancel_all_orders(instrument_id)
            for instrument_id in {p.instrument_id for p in self.cache.positions_open(strategy_id=strategy.id)}:
                strategy.close_all_positions(instrument_id)
        self.remove_strategy(strategy)
        logger.info("strategy %s stopped and removed%s", strategy.id.value, " (flattened)" if flatten else "")

    # -- states: loop -> writer thread -> Redis -----------------------------------------------------
    def _publish_states(self, _event=None) -> None:
        states: dict[str, dict] = {}
        for strategy in self._trader.strategies():
            tag = strategy.order_id_tag
            if not DESK_TAG.match(str(tag)):
                continue
            states[tag] = {
                "strategy_id": strategy.id.value,
                "state": strategy.state.name,
                "open_orders": len(self.cache.orders_open(strategy_id=strategy.id)),
                "open_positions": len(self.cache.positions_open(strategy_id=strategy.id)),
            }
        for tag, desk in self._desk.items():
            states.setdefault(tag, {"strategy_id": "", "state": "ABSENT", "open_orders": 0, "open_positions": 0})
            states[tag].update({k: v for k, v in desk.items() if k != "strategy"})
        self._outbox.put({"ts": time.time(), "states": states})

    def _writer(self) -> None:
        client = redis.Redis.from_url(self._redis_url, socket_timeout=5)
        while True:
            item = self._outbox.get()
            if item is None:
                return
            # Only the newest snapshot matters.
            while True:
                try:
                    newer = self._outbox.get_nowait()
                except queue.Empty:
                    break
                if newer is None:
                    return
                item = newer
            mapping = {tag: json.dumps({**state, "ts": item["ts"]}) for tag, state in item["states"].items()}
            try:
                pipe = client.pipeline(transaction=True)
                pipe.delete(self._key)
                if mapping:
                    pipe.hset(self._key, mapping=mapping)
                pipe.expire(self._key, 30)
                pipe.execute()
            except redis.RedisError as exc:
                logger.warning("strategy states not written: %r", exc)
