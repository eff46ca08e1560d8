"""Inside the node: desk orders in, every order event out.

``DeskOrders`` is a Nautilus ``Strategy`` that the node always runs. It

* reads the desk's command stream (``trading.commands``) on a thread and hands
  each command to the node's event loop, acknowledging it only once Nautilus
  holds the order (or has refused it) — so a node killed mid-flight re-reads it;
* skips a submit whose client order id the (Redis-backed) cache already holds,
  and refuses one read after its delivery deadline — so nothing is sent twice
  and nothing goes out after the desk gave up on it;
* marks each submit in ``ni:node:<trader_id>:submitted`` (a sorted set by
  time, trimmed to ``MARKER_TTL_SECONDS``) before handing it to Nautilus. The
  cache reaches Redis up to ``buffer_interval_ms`` later, so a node killed in
  between restarts with a marked order its cache never held: that order may
  have reached the (lost) venue, so it is refused, never sent again (as is one
  the cache holds only as initialized). On start the node replays the events
  of every marked or open order it holds (the outbox of a killed node dies
  with it; the bridge ignores what it already has) and refuses the marked
  orders it does not hold;
* closes, on start, the orders a previous node left working on a venue that
  lives inside the node process (the simulated venue restarts empty with it):
  rejected if never acknowledged, canceled otherwise, each with the reason —
  so neither Nautilus nor the desk keeps an order no venue has;
* subscribes to every order event on the message bus (its own orders and the
  strategies') and appends them to the desk's event stream from a writer
  thread, so the event loop never waits on Redis;
* publishes the engine's net positions per instrument every second for
  reconciliation with the book (``ni:node:<trader_id>:positions``).

This module imports Nautilus: only the node process loads it.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from concurrent.futures import Future
from decimal import Decimal

import redis
from nautilus_trader.config import StrategyConfig
from nautilus_trader.core.datetime import unix_nanos_to_dt
from nautilus_trader.model.enums import OrderSide, TimeInForce
from nautilus_trader.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderModifyRejected,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
)
from nautilus_trader.model.identifiers import ClientOrderId, InstrumentId
from nautilus_trader.trading.strategy import Strategy

from trading.node.strategy_host import COMMAND_TYPES as STRATEGY_COMMANDS
from trading.node.strategy_host import ENDPOINT as STRATEGY_HOST_ENDPOINT

logger = logging.getLogger(__name__)
COMMAND_GROUP = "node"
POSITIONS_KEY = "ni:node:{trader_id}:positions"
SUBMITTED_KEY = "ni:node:{trader_id}:submitted"
# Markers older than this are trimmed: by then the cache holds the order, and a command
# re-delivered that late is past its delivery deadline (trading.order_entry) anyway.
MARKER_TTL_SECONDS = 120
LOST_REASON = "the node restarted before it recorded this order; not sent again, to avoid a duplicate"
VENUE_LOST_REASON = "the simulated venue restarted with the node and no longer holds this order"
ORDER_EVENTS_TOPIC = "events.order.*"


class DeskOrdersConfig(StrategyConfig, frozen=True):
    redis_url: str
    desk_trader_id: str
    consumer: str = "node-1"
    positions_interval_secs: float = 1.0


class DeskOrders(Strategy):
    def __init__(self, config: DeskOrdersConfig):
        super().__init__(config)
        self._redis_url = config.redis_url
        self._desk_trader_id = config.desk_trader_id
        self._consumer = config.consumer
        self._positions_interval = config.positions_interval_secs
        self._commands = f"ni:node:{config.desk_trader_id}:commands"
        self._events = f"ni:node:{config.desk_trader_id}:events"
        self._submitted = SUBMITTED_KEY.format(trader_id=config.desk_trader_id)
        self._outbox: queue.Queue = queue.Queue()
        self._stop_event = threading.Event()
        self._threads: list[threading.Thread] = []
        self._loop = None
        # Venues simulated inside this process (set by trading.node.main): they restart empty with it.
        self._in_process_venues: frozenset[str] = frozenset()
        self._venues_checked = False
        # client order id -> reason, for the cancellations this node makes up itself.
        self._close_reasons: dict[str, str] = {}
        # client order id -> correlation id of the request that created it, so node
        # log lines and the events going back carry the id the web request had.
        self._cids: dict[str, str] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def on_start(self) -> None:
        import asyncio

        self._loop = asyncio.get_event_loop()
        self._stop_event.clear()
        self.msgbus.subscribe(topic=ORDER_EVENTS_TOPIC, handler=self._on_any_order_event)
        self._threads = [
            threading.Thread(target=self._writer, name="desk-events-writer", daemon=True),
            threading.Thread(target=self._reader, name="desk-commands-reader", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        self.clock.set_timer(
            "desk-positions", interval=_secs(self._positions_interval), callback=self._publish_positions
        )

    def on_stop(self) -> None:
        self._stop_event.set()
        self.msgbus.unsubscribe(topic=ORDER_EVENTS_TOPIC, handler=self._on_any_order_event)
        for thread in self._threads:
            thread.join(timeout=3)
        self._threads = []

    def _marked_orders(self, client: redis.Redis) -> list[str]:
        """The submits marked within ``MARKER_TTL_SECONDS``; waits out a Redis outage (reader thread)."""
        while not self._stop_event.is_set():
            try:
                client.zremrangebyscore(self._submitted, "-inf", time.time() - MARKER_TTL_SECONDS)
                return [raw.decode() for raw in client.zrange(self._submitted, 0, -1)]
            except redis.RedisError as exc:
                self.log.warning(f"desk reconciliation: {exc!r}; retrying")
                self._stop_event.wait(0.5)
        return []

    def _reconcile_with_desk(self, marked: list[str], done: Future) -> None:
        """Tell the desk what a previous (possibly killed) node process did, before any command is read.

        Runs on the event loop (it reads the cache). Re-emitted events are harmless: the bridge is
        idempotent by status and trade id."""
        try:
            self._reconcile_orders(marked)
        finally:
            done.set_result(True)

    def _reconcile_orders(self, marked: list[str]) -> None:
        replayed = set()
        lost = 0
        for member in marked:
            # "<client order id> <venue>": the venue says whether the order died with this process.
            cid, _, venue = member.partition(" ")
            order = self.cache.order(ClientOrderId(cid))
            if order is not None and order.status_string() == "INITIALIZED":
                # Persisted before the engines saw it: whether it went out is unknown, so it is refused.
                self._deny(order, LOST_REASON)
                lost += 1
            elif order is not None:
                self._replay(order)
                replayed.add(cid)
            else:
                # Kept until trimmed: a re-delivery of its command is refused too. On an in-process
                # venue it is gone either way: the desk may have seen it accepted before the kill.
                reason = VENUE_LOST_REASON if venue in self._in_process_venues else LOST_REASON
                self._emit("denied", {"client_order_id": cid, "reason": reason})
                lost += 1
        for order in self.cache.orders_open():
            if order.client_order_id.value not in replayed:
                self._replay(order)
                replayed.add(order.client_order_id.value)
        closed = self._close_orders_lost_with_venue()
        if replayed or lost or closed:
            self.log.warning(
                f"desk reconciliation: replayed {len(replayed)} order(s), refused {lost} lost one(s), "
                f"closed {closed} the venue lost"
            )

    def _replay(self, order) -> None:
        for event in order.events:
            self._on_any_order_event(event)

    def _deny(self, order, reason: str) -> None:
        """Deny an order through the execution engine, as Nautilus's RiskEngine does."""
        from nautilus_trader.core.uuid import UUID4

        denied = OrderDenied(
            trader_id=order.trader_id,
            strategy_id=order.strategy_id,
            instrument_id=order.instrument_id,
            client_order_id=order.client_order_id,
            reason=reason,
            event_id=UUID4(),
            ts_init=self.clock.timestamp_ns(),
        )
        self.msgbus.send(endpoint="ExecEngine.process", msg=denied)

    def in_process_venues_set(self, venues: frozenset[str]) -> None:
        """Venues whose exchange runs inside the node process: orders working there die with it."""
        self._in_process_venues = venues

    def _close_orders_lost_with_venue(self) -> int:
        """Close, through the execution engine, the orders a previous process left open on an in-process venue."""
        from nautilus_trader.live.reconciliation import create_order_canceled_event, create_order_rejected_event

        if self._venues_checked:
            return 0  # a strategy restarted inside a running node: its venues kept their orders
        self._venues_checked = True
        closed = 0
        left_open = {o.client_order_id: o for o in self.cache.orders_open() + self.cache.orders_inflight()}
        for order in left_open.values():
            if order.instrument_id.venue.value not in self._in_process_venues or order.is_closed:
                continue
            if order.status_string() == "SUBMITTED":
                event = create_order_rejected_event(order, self.clock.timestamp_ns(), reason=VENUE_LOST_REASON)
            else:
                self._close_reasons[order.client_order_id.value] = VENUE_LOST_REASON
                event = create_order_canceled_event(order, self.clock.timestamp_ns())
            self.msgbus.send(endpoint="ExecEngine.process", msg=event)
            closed += 1
        return closed

    # -- commands: stream thread -> event loop ---------------------------------------------------

    def _reader(self) -> None:
        from trading.commands import read_group  # plain Redis code, no Django models

        client = redis.Redis.from_url(self._redis_url, socket_timeout=5)
        reconciled: Future = Future()
        self._loop.call_soon_threadsafe(self._reconcile_with_desk, self._marked_orders(client), reconciled)
        reconciled.result(timeout=60)
        trimmed_at = time.monotonic()
        while not self._stop_event.is_set():
            try:
                if time.monotonic() - trimmed_at > 5:
                    client.zremrangebyscore(self._submitted, "-inf", time.time() - MARKER_TTL_SECONDS)
                    trimmed_at = time.monotonic()
                for entry in read_group(client, self._commands, COMMAND_GROUP, self._consumer, block_ms=200):
                    first = True
                    if entry.type == "submit" and entry.body.get("client_order_id"):
                        # Marked before Nautilus sees it; 0 means a previous read got this far.
                        venue = entry.body.get("instrument_id", "").rpartition(".")[2]
                        marker = {f"{entry.body['client_order_id']} {venue}": time.time()}
                        first = bool(client.zadd(self._submitted, marker, nx=True))
                    done: Future = Future()
                    self._loop.call_soon_threadsafe(self._run_command, entry, done, first)
                    done.result(timeout=10)
                    client.xack(self._commands, COMMAND_GROUP, entry.stream_id)
                    if self._stop_event.is_set():
                        break
            except Exception as exc:  # keep reading after Redis hiccups; log once per failure
                if not self._stop_event.is_set():
                    self.log.warning(f"desk command reader: {exc!r}; retrying")
                    self._stop_event.wait(0.5)

    def _run_command(self, entry, done: Future, first: bool) -> None:
        from monitoring.logging import correlation

        cid = entry.body.get("client_order_id", "")
        if entry.cid and cid:
            self._cids[cid] = entry.cid
        with correlation(entry.cid or None):
            logger.info("desk command %s %s", entry.type, cid)
            self._run_command_inner(entry, done, first)

    def _run_command_inner(self, entry, done: Future, first: bool) -> None:
        if entry.type in STRATEGY_COMMANDS:
            # Deploy/stop/pause/resume of a desk strategy: the node's controller (trading.node.strategy_host).
            self.msgbus.send(endpoint=STRATEGY_HOST_ENDPOINT, msg=entry)
            done.set_result(True)
            return
        try:
            handler = {"cancel": self._cancel, "modify": self._modify, "cancel_all": self._cancel_all}.get(entry.type)
            if entry.type == "submit":
                self._submit(entry.body, first=first)
            elif handler is None:
                self.log.error(f"unknown desk command {entry.type}")
            else:
                handler(entry.body)
            done.set_result(True)
        except Exception as exc:
            self.log.error(f"desk command {entry.type} {entry.body.get('client_order_id')} failed: {exc!r}")
            self._emit(
                "denied",
                {
                    "client_order_id": entry.body.get("client_order_id", ""),
                    "reason": f"node could not process the command: {exc}",
                },
            )
            done.set_result(False)

    def _submit(self, body: dict, *, first: bool) -> None:
        cid = ClientOrderId(body["client_order_id"])
        if self.cache.order(cid) is not None:
            return  # re-delivered after a crash: Nautilus already has it
        if not first:
            # Read before by a node that died before its cache reached Redis: it may have gone out.
            self._emit("denied", {"client_order_id": cid.value, "reason": LOST_REASON})
            return
        deadline = body.get("deadline_ns")
        if deadline and time.time_ns() > int(deadline):
            self._emit("denied", {"client_order_id": cid.value, "reason": "arrived after its delivery deadline"})
            return
        instrument_id = InstrumentId.from_str(body["instrument_id"])
        instrument = self.cache.instrument(instrument_id)
        if instrument is None:
            self._emit(
                "denied", {"client_order_id": cid.value, "reason": f"instrument {instrument_id} not loaded in the node"}
            )
            return
        side = OrderSide.BUY if body["side"] == "BUY" else OrderSide.SELL
        quantity = instrument.make_qty(Decimal(body["quantity"]))
        tif = TimeInForce[body.get("time_in_force") or "GTC"]
        expire = unix_nanos_to_dt(int(body["expire_time_ns"])) if body.get("expire_time_ns") else None
        common = {
            "instrument_id": instrument_id,
            "order_side": side,
            "quantity": quantity,
            "time_in_force": tif,
            "reduce_only": bool(body.get("reduce_only")),
            "client_order_id": cid,
        }
        kind = body["order_type"]
        if kind == "MARKET":
            order = self.order_factory.market(**common)
        elif kind == "LIMIT":
            order = self.order_factory.limit(
                price=instrument.make_price(Decimal(body["price"])), expire_time=expire, **common
            )
        elif kind == "STOP_MARKET":
            order = self.order_factory.stop_market(
                trigger_price=instrument.make_price(Decimal(body["trigger_price"])), expire_time=expire, **common
            )
        elif kind == "STOP_LIMIT":
            order = self.order_factory.stop_limit(
                price=instrument.make_price(Decimal(body["price"])),
                trigger_price=instrument.make_price(Decimal(body["trigger_price"])),
                expire_time=expire,
                **common,
            )
        else:
            self._emit("denied", {"client_order_id": cid.value, "reason": f"unknown order type {kind}"})
            return
        self.submit_order(order)

    def _cancel(self, body: dict) -> None:
        order = self.cache.order(ClientOrderId(body["client_order_id"]))
        if order is None:
            # Canceled at the desk before it was ever sent: nothing to do here.
            return
        if order.is_closed:
            self._emit(
                "cancel_rejected",
                {"client_order_id": order.client_order_id.value, "reason": f"already {order.status_string().lower()}"},
            )
            return
        self.cancel_order(order)

    def _modify(self, body: dict) -> None:
        order = self.cache.order(ClientOrderId(body["client_order_id"]))
        if order is None or order.is_closed:
            reason = "unknown to the node" if order is None else f"already {order.status_string().lower()}"
            self._emit("modify_rejected", {"client_order_id": body["client_order_id"], "reason": reason})
            return
        instrument = self.cache.instrument(order.instrument_id)
        kwargs = {}
        if body.get("quantity"):
            kwargs["quantity"] = instrument.make_qty(Decimal(body["quantity"]))
        if body.get("price"):
            kwargs["price"] = instrument.make_price(Decimal(body["price"]))
        if body.get("trigger_price"):
            kwargs["trigger_price"] = instrument.make_price(Decimal(body["trigger_price"]))
        self.modify_order(order, **kwargs)

    def _cancel_all(self, body: dict) -> None:
        instrument_id = InstrumentId.from_str(body["instrument_id"]) if body.get("instrument_id") else None
        for order in self.cache.orders_open(instrument_id=instrument_id):
            self.cancel_order(order)

    # -- events: event loop -> writer thread -> stream --------------------------------------------

    def _on_any_order_event(self, event) -> None:
        cid = event.client_order_id.value
        if isinstance(event, OrderFilled):
            order = self.cache.order(event.client_order_id)
            kind = "filled" if order is not None and order.is_closed else "partially_filled"
            self._emit(
                kind,
                {
                    "client_order_id": cid,
                    "trade_id": event.trade_id.value,
                    "venue_order_id": event.venue_order_id.value if event.venue_order_id else "",
                    "last_qty": str(event.last_qty.as_decimal()),
                    "last_px": str(event.last_px.as_decimal()),
                    "commission": str(event.commission.as_decimal()) if event.commission else "0",
                    "commission_currency": event.commission.currency.code if event.commission else "",
                    "liquidity_side": event.liquidity_side.name,
                    "ts": event.ts_event,
                },
            )
        elif isinstance(event, OrderAccepted):
            self._emit(
                "accepted", {"client_order_id": cid, "venue_order_id": event.venue_order_id.value, "ts": event.ts_event}
            )
        elif isinstance(event, OrderSubmitted):
            self._emit("submitted", {"client_order_id": cid, "ts": event.ts_event})
        elif isinstance(event, OrderDenied):
            self._emit("denied", {"client_order_id": cid, "reason": event.reason, "ts": event.ts_event})
        elif isinstance(event, OrderRejected):
            self._emit("rejected", {"client_order_id": cid, "reason": event.reason, "ts": event.ts_event})
        elif isinstance(event, OrderCanceled):
            reason = self._close_reasons.pop(cid, "")
            self._emit(
                "canceled", {"client_order_id": cid, "ts": event.ts_event, **({"reason": reason} if reason else {})}
            )
        elif isinstance(event, OrderExpired):
            self._emit("expired", {"client_order_id": cid, "ts": event.ts_event})
        elif isinstance(event, OrderTriggered):
            self._emit("triggered", {"client_order_id": cid, "ts": event.ts_event})
        elif isinstance(event, OrderUpdated):
            self._emit(
                "updated",
                {
                    "client_order_id": cid,
                    "quantity": str(event.quantity.as_decimal()),
                    "price": str(event.price.as_decimal()) if event.price is not None else None,
                    "trigger_price": str(event.trigger_price.as_decimal()) if event.trigger_price is not None else None,
                    "ts": event.ts_event,
                },
            )
        elif isinstance(event, OrderModifyRejected):
            self._emit("modify_rejected", {"client_order_id": cid, "reason": event.reason, "ts": event.ts_event})
        elif isinstance(event, OrderCancelRejected):
            self._emit("cancel_rejected", {"client_order_id": cid, "reason": event.reason, "ts": event.ts_event})

    def _emit(self, type_: str, body: dict) -> None:
        cid = self._cids.get(body.get("client_order_id", ""), "")
        if type_ in ("filled", "canceled", "expired", "rejected", "denied"):
            self._cids.pop(body.get("client_order_id", ""), None)
        self._outbox.put(("event", type_, body, cid))

    def _publish_positions(self, _event=None) -> None:
        """Per instrument the engine has traded: net position, average open price and the portfolio's
        own realised and unrealised P&L, with what they are valued at.

        The P&L is ``Portfolio.realized_pnl`` / ``unrealized_pnl`` as Nautilus reports it, in
        ``pnl_currency`` (the account's base currency when it has one, converted at ``xrate``
        from the settlement currency), and the unrealised P&L at the ``bid`` (longs) or ``ask``
        (shorts) given: enough for the book to be checked against the engine to the cent.
        """
        from nautilus_trader.model.enums import PriceType

        snapshot = {}
        for instrument_id in sorted({p.instrument_id for p in self.cache.positions()}, key=str):
            open_positions = self.cache.positions_open(instrument_id=instrument_id)
            realized = self.portfolio.realized_pnl(instrument_id)
            unrealized = self.portfolio.unrealized_pnl(instrument_id)
            quote = self.cache.quote_tick(instrument_id)
            instrument = self.cache.instrument(instrument_id)
            account = self.cache.account_for_venue(instrument_id.venue)
            settlement = instrument.get_cost_currency() if instrument is not None else None
            xrate = None
            if account is not None and account.base_currency is not None and settlement is not None:
                xrate = self.cache.get_xrate(instrument_id.venue, settlement, account.base_currency, PriceType.MID)
            money = realized if realized is not None else unrealized
            snapshot[instrument_id.value] = {
                "quantity": str(self.portfolio.net_position(instrument_id)),
                "avg_px": str(open_positions[-1].avg_px_open) if open_positions else None,
                "realized_pnl": None if realized is None else str(realized.as_decimal()),
                "unrealized_pnl": None if unrealized is None else str(unrealized.as_decimal()),
                "pnl_currency": None if money is None else money.currency.code,
                "settlement_currency": None if settlement is None else settlement.code,
                "xrate": None if xrate is None else repr(xrate),
                "bid": None if quote is None else str(quote.bid_price),
                "ask": None if quote is None else str(quote.ask_price),
            }
        self._outbox.put(("positions", time.time(), snapshot))

    def _writer(self) -> None:
        from trading.commands import STREAM_MAXLEN

        client = redis.Redis.from_url(self._redis_url, socket_timeout=5)
        positions_key = POSITIONS_KEY.format(trader_id=self._desk_trader_id)
        pending: list = []
        while not (self._stop_event.is_set() and self._outbox.empty() and not pending):
            if not pending:
                try:
                    pending.append(self._outbox.get(timeout=0.2))
                except queue.Empty:
                    continue
            while len(pending) < 500:
                try:
                    pending.append(self._outbox.get_nowait())
                except queue.Empty:
                    break
            try:
                pipe = client.pipeline(transaction=False)
                for item in pending:
                    if item[0] == "event":
                        _, type_, body, cid = item
                        pipe.xadd(
                            self._events,
                            {"type": type_, "body": json.dumps(body, default=str), "cid": cid},
                            maxlen=STREAM_MAXLEN,
                            approximate=True,
                        )
                    else:
                        _, ts, snapshot = item
                        pipe.set(positions_key, json.dumps({"ts": ts, "positions": snapshot}))
                pipe.execute()
                pending = []
            except redis.RedisError as exc:
                # Keep the events in order and try again: they are the record of what the venue did.
                self.log.warning(f"desk event writer: {exc!r}; retrying")
                self._stop_event.wait(0.5)
                if self._stop_event.is_set() and time.monotonic() > getattr(self, "_give_up_at", float("inf")):
                    break
                if self._stop_event.is_set() and not hasattr(self, "_give_up_at"):
                    self._give_up_at = time.monotonic() + 5


def _secs(seconds: float):
    from datetime import timedelta

    return timedelta(seconds=seconds)
