"""Inside the node: the kill switch sets Nautilus's trading state, and strategies' orders pass the desk gate.

``NodeRiskHook(node=..., trader_id=...).install()`` (from ``trading.node.main``,
after ``build()`` and before ``run()``) does two things.

**Kill switch → ``TradingState``.** A thread subscribes to the gate channel
``ni:risk:gate`` (docs/risk-gate.md) and, on every ``kill_switch`` message, sets
``node.kernel.risk_engine.set_trading_state(...)`` on the node's event loop
(``call_soon_threadsafe``): a global switch engaged in mode ``halt`` → ``HALTED``,
``reduce_only`` → ``REDUCING``, disengaged → ``ACTIVE``. At start, and again every
``RESYNC_SECONDS`` and after any reconnect (a pub/sub message can be lost), it
reads the state from PostgreSQL (the record), falling back to the Redis mirror
``ni:killswitch:global``; if neither can be read the node is put in ``HALTED``
until one can (fail closed). The state Nautilus actually holds afterwards is
written to the node's status hash ``ni:node:<trader_id>`` as ``trading_state``.
Nautilus has one trading state for the whole node, so a *scoped* switch
(account, strategy, instrument, sector) does not change it: the desk gate —
in front of desk orders and, through the hook below, of strategy orders — refuses
what the scope covers. ``cancel_open`` on any scope cancels the scope's open
orders here in the node.

**Strategy orders → the desk gate.** The hook replaces the message-bus endpoint
``RiskEngine.execute`` (where every strategy's ``submit_order`` goes) with a
wrapper. ``SubmitOrder``/``SubmitOrderList`` commands of the desk's own
``DeskOrders`` strategy pass straight through — the gate judged them in the web
or worker process. Any other strategy's command is held (the order stays
``INITIALIZED`` in the cache) while a worker thread records it as an ``Order`` row
and runs the gate (``trading.strategy_orders``); approved, the command continues
to Nautilus's own ``RiskEngine`` (the second layer) on the loop; rejected, the
order is denied with an ``OrderDenied`` event carrying the gate's reasons, just as
Nautilus's ``RiskEngine`` denies. The database work never runs on the loop.
Modify and cancel commands pass through (a strategy shrinking or pulling an order
needs no gate; see the report on larger modifications).

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

from nautilus_trader.core.uuid import UUID4
from nautilus_trader.execution.messages import SubmitOrder, SubmitOrderList
from nautilus_trader.model.enums import OrderStatus, TradingState
from nautilus_trader.model.events import OrderDenied

logger = logging.getLogger(__name__)

ENDPOINT = "RiskEngine.execute"
DESK_STRATEGY_IDS = frozenset({"DeskOrders-DESK"})
RESYNC_SECONDS = 2.0
STATE_FOR_MODE = {"halt": TradingState.HALTED, "reduce_only": TradingState.REDUCING}


def trading_state_for(switch: dict | None) -> TradingState:
    """The node-wide Nautilus state a global kill-switch record asks for."""
    if not switch or not switch.get("engaged"):
        return TradingState.ACTIVE
    return STATE_FOR_MODE.get(switch.get("mode", "halt"), TradingState.HALTED)


class NodeRiskHook:
    def __init__(self, *, node, trader_id: str, desk_strategy_ids: frozenset[str] = DESK_STRATEGY_IDS) -> None:
        self.node = node
        self.trader_id = trader_id
        self.desk_strategy_ids = desk_strategy_ids
        self.loop = node.get_event_loop()
        self.risk_engine = node.kernel.risk_engine
        self.msgbus = node.kernel.msgbus
        self._forward = None
        self._stop = threading.Event()
        self._pending: queue.Queue = queue.Queue()
        self._threads: list[threading.Thread] = []
        self.trading_state = ""

    # -- lifecycle ----------------------------------------------------------------------------
    def install(self) -> NodeRiskHook:
        original = self.risk_engine.execute
        self.msgbus.deregister(endpoint=ENDPOINT, handler=original)
        self.msgbus.register(endpoint=ENDPOINT, handler=self._execute)
        self._forward = original
        self._status_write(trading_state="")  # nothing is known until the first state is applied
        self._threads = [
            threading.Thread(target=self._kill_switch_loop, name="node-kill-switch", daemon=True),
            threading.Thread(target=self._gate_loop, name="node-strategy-gate", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._pending.put(None)
        for thread in self._threads:
            thread.join(timeout=3)

    def heartbeat_fields(self) -> dict:
        """Restated with every node heartbeat (the publisher thread), so the hash heals if it was cleared."""
        return {"trading_state": self.trading_state} if self.trading_state else {}

    # -- kill switch ----------------------------------------------------------------------------
    def _kill_switch_loop(self) -> None:
        from monitoring.redis_client import redis_client
        from risk.gate.events import GATE_CHANNEL

        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = redis_client().pubsub(ignore_subscribe_messages=False)
                pubsub.subscribe(GATE_CHANNEL)
                first = pubsub.get_message(timeout=2.0)
                if not first or first.get("type") != "subscribe":
                    raise ConnectionError("no subscribe confirmation")
                # Subscribed first, then read: a change made meanwhile arrives as a message.
                self._resync(source="start")
                next_resync = time.monotonic() + RESYNC_SECONDS
                while not self._stop.is_set():
                    msg = pubsub.get_message(timeout=0.2)
                    if msg and msg.get("type") == "message":
                        self._on_message(msg["data"])
                    if time.monotonic() >= next_resync:
                        self._resync(source="resync")
                        next_resync = time.monotonic() + RESYNC_SECONDS
            except Exception as exc:
                logger.warning("node kill-switch listener interrupted: %s", exc)
                self._stop.wait(0.5)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        pass
        from django.db import connections

        connections.close_all()

    def _on_message(self, raw: bytes) -> None:
        try:
            msg = json.loads(raw)
        except ValueError:
            return
        if msg.get("type") != "kill_switch":
            return
        if msg.get("scope") == "global":
            self._apply(trading_state_for(msg), reason=msg.get("reason", ""))
        if msg.get("engaged") and msg.get("cancel_open"):
            self._cancel_open(scope=msg.get("scope"), target=msg.get("target"))

    def _global_switch(self) -> dict | None:
        """The global switch from PostgreSQL, else the Redis mirror; raises when neither answers."""
        from django.db import close_old_connections

        try:
            close_old_connections()
            from risk.selectors import kill_switch_global

            ks = kill_switch_global()
            return None if ks is None else {"engaged": ks.engaged, "mode": ks.mode, "reason": ks.reason}
        except Exception:
            logger.warning("kill switch: database unreadable, using the Redis mirror", exc_info=True)
        from monitoring.redis_client import redis_client
        from risk.status import KILL_SWITCH_GLOBAL_KEY

        raw = redis_client().get(KILL_SWITCH_GLOBAL_KEY)
        return json.loads(raw) if raw else None

    def _resync(self, *, source: str) -> None:
        try:
            switch = self._global_switch()
        except Exception as exc:
            logger.error("kill switch state unknown (%s); halting the node until it can be read", exc)
            self._apply(TradingState.HALTED, reason=f"kill-switch state unreadable: {exc}")
            return
        self._apply(trading_state_for(switch), reason=(switch or {}).get("reason", "") or source)

    def _apply(self, state: TradingState, *, reason: str) -> None:
        done: Future = Future()

        def on_loop() -> None:
            try:
                if self.risk_engine.trading_state != state:
                    self.risk_engine.set_trading_state(state)
                    logger.warning("trading state set to %s: %s", state.name, reason)
                done.set_result(TradingState(self.risk_engine.trading_state).name)
            except Exception as exc:
                done.set_exception(exc)

        self.loop.call_soon_threadsafe(on_loop)
        name = done.result(timeout=5)
        if name != self.trading_state:
            self.trading_state = name
            self._status_write(trading_state=name)

    def _status_write(self, **fields) -> None:
        from monitoring.redis_client import redis_client
        from trading.node.status import node_key

        try:
            if fields.get("trading_state"):
                redis_client().hset(node_key(self.trader_id), mapping={**fields, "trading_state_at": str(time.time())})
            else:
                redis_client().hdel(node_key(self.trader_id), "trading_state", "trading_state_at")
        except Exception:
            logger.warning("could not write the trading state to the node status", exc_info=True)

    def _cancel_open(self, *, scope: str, target) -> None:
        """Cancel the scope's open orders. The scope is resolved to client order ids from the desk's
        order rows (off the loop); the cancels are sent on the loop by each order's own strategy."""
        from django.db import close_old_connections

        from trading.lifecycle import WORKING_STATUSES
        from trading.models import Order

        close_old_connections()
        orders = Order.objects.filter(status__in=WORKING_STATUSES)
        if scope == "account":
            orders = orders.filter(account_id=target)
        elif scope == "strategy":
            orders = orders.filter(strategy_id=target)
        elif scope == "instrument":
            orders = orders.filter(instrument__instrument_id=target)
        elif scope == "sector":
            orders = orders.filter(instrument__sector_id=target)
        ids = set(orders.values_list("client_order_id", flat=True))
        close_old_connections()

        def on_loop() -> None:
            strategies = {s.id: s for s in self.node.trader.strategies()}
            for order in self.node.kernel.cache.orders_open():
                if scope != "global" and order.client_order_id.value not in ids:
                    continue
                owner = strategies.get(order.strategy_id)
                if owner is not None:
                    owner.cancel_order(order)

        self.loop.call_soon_threadsafe(on_loop)

    # -- strategy orders ------------------------------------------------------------------------
    def _execute(self, command) -> None:
        """The ``RiskEngine.execute`` endpoint (on the loop): hold strategy submits for the gate."""
        if (
            isinstance(command, SubmitOrder | SubmitOrderList)
            and command.strategy_id.value not in self.desk_strategy_ids
        ):
            orders = [command.order] if isinstance(command, SubmitOrder) else list(command.order_list.orders)
            self._pending.put((command, orders, [_plain(o) for o in orders]))
            return
        self._forward(command)

    def _gate_loop(self) -> None:
        from django.db import close_old_connections

        try:
            from risk.services import process_gate

            process_gate().runtime.ready.wait(5)  # load the snapshot now, not on the first order
        except Exception:
            logger.exception("node gate runtime failed to start; strategy orders will be rejected")
        while not self._stop.is_set():
            item = self._pending.get()
            if item is None:
                break
            command, orders, plain = item
            close_old_connections()
            try:
                verdicts = [self._judge(p) for p in plain]
            except Exception as exc:
                logger.exception("strategy order could not be judged")
                verdicts = [(False, [f"GATE_ERROR: {type(exc).__name__}: {exc}"])]
            finally:
                close_old_connections()
            if all(ok for ok, _ in verdicts):
                self.loop.call_soon_threadsafe(self._forward, command)
            else:
                reason = "; ".join(r for ok, reasons in verdicts if not ok for r in reasons)[:500]
                self.loop.call_soon_threadsafe(self._deny, orders, f"Desk risk gate: {reason}")
        from django.db import connections

        connections.close_all()

    def _judge(self, plain: dict) -> tuple[bool, list[str]]:
        from trading.strategy_orders import StrategyOrder, StrategyOrderRefused, strategy_order_submit

        try:
            _row, approved, reasons = strategy_order_submit(order=StrategyOrder(**plain))
        except StrategyOrderRefused as exc:
            _alert_unrecorded(plain, str(exc))
            return False, [f"INVALID_ORDER: {exc}"]
        return approved, reasons

    def _deny(self, orders, reason: str) -> None:
        """On the loop: deny like Nautilus's RiskEngine does (INITIALIZED -> DENIED)."""
        clock = self.node.kernel.clock
        for order in orders:
            if order.status != OrderStatus.INITIALIZED:
                continue
            denied = OrderDenied(
                trader_id=order.trader_id,
                strategy_id=order.strategy_id,
                instrument_id=order.instrument_id,
                client_order_id=order.client_order_id,
                reason=reason,
                event_id=UUID4(),
                ts_init=clock.timestamp_ns(),
            )
            logger.warning("strategy order %s denied: %s", order.client_order_id.value, reason)
            self.msgbus.send(endpoint="ExecEngine.process", msg=denied)


def _plain(order) -> dict:
    """Everything the desk needs from a Nautilus order, copied on the loop (plain values)."""
    price = getattr(order, "price", None)
    trigger = getattr(order, "trigger_price", None)
    return {
        "client_order_id": order.client_order_id.value,
        "nautilus_strategy_id": order.strategy_id.value,
        "instrument_id": order.instrument_id.value,
        "side": order.side_string(),
        "order_type": order.type_string(),
        "quantity": order.quantity.as_decimal(),
        "price": price.as_decimal() if price is not None else None,
        "trigger_price": trigger.as_decimal() if trigger is not None else None,
        "time_in_force": order.tif_string(),
        "expire_time_ns": int(getattr(order, "expire_time_ns", 0) or 0),
        "reduce_only": bool(order.is_reduce_only),
    }


def _alert_unrecorded(plain: dict, why: str) -> None:
    from monitoring.models import Alert

    try:
        Alert.objects.create(
            severity=Alert.Severity.WARNING,
            category=Alert.Category.RISK,
            title=f"Strategy order denied in the node: {plain['client_order_id']}",
            message=(
                f"{plain['nautilus_strategy_id']} {plain['side']} {plain['quantity']} {plain['instrument_id']}: {why}"
            ),
            source="node.risk_hook",
            details={k: str(v) if isinstance(v, Decimal) else v for k, v in plain.items()},
        )
    except Exception:
        logger.exception("could not raise the alert for an unrecorded strategy order")
