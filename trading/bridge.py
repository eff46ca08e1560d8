"""The event bridge: node order events -> the database -> open pages.

Runs outside the node's event loop (a thread of the node supervisor, or
``manage.py run_bridge``), reading ``ni:node:<trader_id>:events`` through a
consumer group and acknowledging an entry only after its database transaction
committed. Every handler is idempotent, so a re-delivered entry changes nothing.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from decimal import Decimal

import redis
from django.db import InterfaceError, OperationalError, close_old_connections, transaction

from monitoring.broadcast import publish_on_commit
from monitoring.logging import correlation
from monitoring.redis_client import redis_client
from trading.commands import StreamEntry, events_stream, read_group
from trading.lifecycle import TERMINAL_STATUSES, order_record_event, order_transition, order_transitions, path_to
from trading.models import Instrument, Order, OrderStatus
from trading.services import FillReport, order_fill_record, order_payload

logger = logging.getLogger(__name__)
S = OrderStatus
GROUP = "bridge"

# Event type -> the status it moves the order to.
STATUS_EVENTS = {
    "submitted": S.SUBMITTED,
    "accepted": S.ACCEPTED,
    "rejected": S.VENUE_REJECTED,
    "canceled": S.CANCELED,
    "expired": S.EXPIRED,
}


def _ts(body: dict) -> datetime:
    ns = body.get("ts")
    return datetime.fromtimestamp(int(ns) / 1e9, tz=UTC) if ns else datetime.now(tz=UTC)


def _advance(order: Order, target: str, *, message: str, data: dict, update_fields: dict | None = None) -> bool:
    """Move the order to ``target`` through any implicit intermediate statuses.

    Returns False (and changes nothing) when the order is already there or past it."""
    path = path_to(order.status, target)
    if not path:
        return False
    for status in path[:-1]:
        order_transition(order, status, message=f"{message} (implied)", data=data)
    order_transition(order, path[-1], message=message, data=data, update_fields=update_fields)
    return True


def _status_move(type_: str, body: dict, status: str) -> tuple[str, str] | None:
    """The status an event of ``type_`` moves an order in ``status`` to, with its timeline
    message; None for the events that are not a status change (fills, modifications...)."""
    reason = body.get("reason", "")
    if type_ in ("denied", "rejected") and status in (S.ACCEPTED, S.PARTIALLY_FILLED):
        # A restarted node closing an order its (in-process) venue lost: the desk saw the venue
        # accept it before the kill, so from here it is canceled, with the node's reason.
        return S.CANCELED, f"Canceled: {reason}"
    if type_ == "denied":
        target = S.REJECTED if status == S.APPROVED else S.VENUE_REJECTED
        return target, f"Denied before the venue: {reason or 'denied by the engine'}"
    if type_ in STATUS_EVENTS:
        target = STATUS_EVENTS[type_]
        message = {
            S.SUBMITTED: "Submitted to venue",
            S.ACCEPTED: "Accepted by venue",
            S.VENUE_REJECTED: f"Rejected by venue: {reason}",
            S.CANCELED: f"Canceled{': ' + reason if reason else ''}",
            S.EXPIRED: "Expired",
        }[target]
        return target, message
    return None


def _event_data(body: dict) -> dict:
    return {k: v for k, v in body.items() if k != "client_order_id"}


def event_apply(entry: StreamEntry) -> str:
    """Apply one node event. Returns what happened ("applied", "duplicate", "unknown order", ...)."""
    with transaction.atomic():
        return _event_apply(entry)


def _event_apply(entry: StreamEntry) -> str:
    body = entry.body
    client_order_id = body.get("client_order_id", "")
    try:
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("instrument")
            .get(client_order_id=client_order_id)
        )
    except Order.DoesNotExist:
        # Orders of strategies inside the node are created by the in-node gate hook
        # before they reach Nautilus; an event for an order we never saw is surfaced.
        logger.error("node event %s for unknown order %s", entry.type, client_order_id)
        return "unknown order"
    data = _event_data(body)

    if entry.type in ("filled", "partially_filled"):
        if order.status in (S.APPROVED,):
            _advance(order, S.SUBMITTED, message="Submitted to venue", data={})
        fill = order_fill_record(
            FillReport(
                client_order_id=client_order_id,
                trade_id=body["trade_id"],
                last_qty=Decimal(body["last_qty"]),
                last_px=Decimal(body["last_px"]),
                commission=Decimal(body.get("commission") or "0"),
                commission_currency=body.get("commission_currency", ""),
                liquidity_side=body.get("liquidity_side", ""),
                ts_event=_ts(body),
                venue_order_id=body.get("venue_order_id", ""),
            )
        )
        return "applied" if fill else "duplicate"

    move = _status_move(entry.type, body, order.status)
    if move is not None:
        updates = {}
        if entry.type in STATUS_EVENTS and body.get("venue_order_id") and not order.venue_order_id:
            updates["venue_order_id"] = body["venue_order_id"]
        moved = _advance(order, move[0], message=move[1], data=data, update_fields=updates)
    elif entry.type == "updated":
        if order.status in TERMINAL_STATUSES:
            return "duplicate"
        fields = {}
        for name in ("quantity", "price", "trigger_price"):
            if body.get(name) is not None and Decimal(body[name]) != getattr(order, name):
                fields[name] = Decimal(body[name])
        if not fields:
            return "duplicate"
        for name, value in fields.items():
            setattr(order, name, value)
        order.save(update_fields=[*fields, "updated_at"])
        order_record_event(order, message="Modified: " + ", ".join(f"{k} {v}" for k, v in fields.items()), data=data)
        moved = True
    elif entry.type in ("triggered", "modify_rejected", "cancel_rejected"):
        label = {
            "triggered": "Stop triggered",
            "modify_rejected": "Modify refused",
            "cancel_rejected": "Cancel refused",
        }
        reason = body.get("reason", "")
        order_record_event(order, message=f"{label[entry.type]}{': ' + reason if reason else ''}", data=data)
        moved = True
    else:
        logger.error("unknown node event type %s", entry.type)
        return "unknown event"

    if moved:
        publish_on_commit("orders", entry.type, order_payload(order))
    return "applied" if moved else "duplicate"


class _Batch:
    """The status events of one read, applied with one lock query for all their orders and,
    per order, one UPDATE and one INSERT of its timeline rows (written when the order's
    next event is of another kind, or at the end) and one push. Fills and the other events go through
    ``_event_apply`` as single events do, after the order's pending status changes."""

    def __init__(self, entries: list[StreamEntry]):
        ids = sorted({entry.body.get("client_order_id", "") for entry in entries})
        # One lock query, in id order (as any two bridges would take them), and one for the
        # orders' instruments; both plain SELECTs: building the ORM's join with its lock and
        # ordering cost the bridge more CPU than everything else it does for an accepted order.
        orders = list(
            Order.objects.raw(
                f'SELECT * FROM "{Order._meta.db_table}" WHERE "client_order_id" = ANY(%s) ORDER BY "id" FOR UPDATE',
                [ids],
            )
        )
        instrument_ids = sorted({order.instrument_id for order in orders})
        instruments = {
            instrument.pk: instrument
            for instrument in Instrument.objects.raw(
                f'SELECT * FROM "{Instrument._meta.db_table}" WHERE "id" = ANY(%s)', [instrument_ids]
            )
        }
        for order in orders:
            order.instrument = instruments[order.instrument_id]
        self.orders: dict[str, Order] = {order.client_order_id: order for order in orders}
        self.stale: set[str] = set()
        # client order id -> (steps, update_fields, pushes) not yet written
        self.pending: dict[str, tuple[list, dict, list]] = {}

    def apply(self, entry: StreamEntry) -> str:
        cid = entry.body.get("client_order_id", "")
        if cid in self.stale:
            self.orders[cid] = Order.objects.select_related("instrument").get(client_order_id=cid)
            self.stale.discard(cid)
        order = self.orders.get(cid)
        if order is None:
            logger.error("node event %s for unknown order %s", entry.type, cid)
            return "unknown order"
        status = self.pending[cid][0][-1][0] if cid in self.pending else order.status
        move = _status_move(entry.type, entry.body, status)
        if move is None:
            # A fill or a timeline-only event: as a single event, on top of what is pending.
            self.flush(cid)
            self.stale.add(cid)
            return _event_apply(entry)
        path = path_to(status, move[0])
        if not path:
            return "duplicate"
        steps, updates, pushes = self.pending.setdefault(cid, ([], {}, []))
        data = _event_data(entry.body)
        steps.extend((step, f"{move[1]} (implied)", data) for step in path[:-1])
        steps.append((path[-1], move[1], data))
        venue_order_id = entry.body.get("venue_order_id")
        if entry.type in STATUS_EVENTS and venue_order_id and not (order.venue_order_id or updates):
            updates["venue_order_id"] = venue_order_id
        pushes.append(entry.type)
        return "applied"

    def flush(self, cid: str | None = None) -> None:
        for key in [cid] if cid is not None else list(self.pending):
            if key not in self.pending:
                continue
            steps, updates, pushes = self.pending.pop(key)
            order_transitions(self.orders[key], steps, update_fields=updates)
            # One push per order and read, of its status as committed (the timeline holds every
            # step; a page reloads it on the push): under load the node's "submitted" and the
            # venue's "accepted" arrive in the same read, and each push costs every open page.
            publish_on_commit("orders", pushes[-1], order_payload(self.orders[key]))


def _batch_apply(entries: list[StreamEntry]) -> list[str]:
    batch = _Batch(entries)
    outcomes = []
    for entry in entries:
        with correlation(entry.cid or None):
            outcomes.append(batch.apply(entry))
    batch.flush()
    return outcomes


def _alert_unapplied(entry: StreamEntry, exc: Exception) -> None:
    from monitoring.models import Alert

    Alert.objects.create(
        severity=Alert.Severity.CRITICAL,
        category=Alert.Category.SERVICE,
        title=f"Node event not applied: {entry.type} {entry.body.get('client_order_id', '')}",
        message=str(exc),
        source="event-bridge",
        details={"stream_id": entry.stream_id, "type": entry.type, "body": entry.body},
    )


def _entry_apply(entry: StreamEntry) -> str:
    """Apply one entry inside the batch's transaction; a poison entry is surfaced, not raised."""
    with correlation(entry.cid or None):
        try:
            outcome = event_apply(entry)
        except (OperationalError, InterfaceError, redis.RedisError):
            # A store is down: the batch rolls back and stays pending; it is re-read on recovery.
            raise
        except Exception as exc:
            # A poison entry must not block the stream: its savepoint is rolled back, it is surfaced.
            logger.exception("node event %s %s could not be applied", entry.stream_id, entry.type)
            _alert_unapplied(entry, exc)
            outcome = "failed"
        # Inside the correlation: the order's id reaches this process's log lines too.
        logger.info(
            "node event %s %s %s: %s", entry.stream_id, entry.type, entry.body.get("client_order_id", ""), outcome
        )
        return outcome


def events_apply(entries: list[StreamEntry]) -> list[str]:
    """Apply a batch of node events in stream order, in one transaction.

    One commit per batch instead of one per event: under load the bridge reads many
    entries at once, and each commit is a WAL flush. The batch is applied first with no
    savepoints (``_Batch``: one lock query, one UPDATE and one INSERT per order); if an
    entry cannot be applied, that attempt is rolled back and the batch is applied again
    entry by entry, each in its own savepoint (``event_apply``), so the one that cannot be
    applied is surfaced and changes nothing else."""
    try:
        with transaction.atomic():
            outcomes = _batch_apply(entries)
    except (OperationalError, InterfaceError, redis.RedisError):
        raise  # a store is down: nothing was applied; the batch stays pending and is re-read
    except Exception:
        logger.warning("a batch of %d node events failed; applying them one by one", len(entries), exc_info=True)
        with transaction.atomic():
            return [_entry_apply(entry) for entry in entries]
    for entry, outcome in zip(entries, outcomes, strict=True):
        # Inside the correlation: the order's id reaches this process's log lines too.
        with correlation(entry.cid or None):
            logger.info(
                "node event %s %s %s: %s", entry.stream_id, entry.type, entry.body.get("client_order_id", ""), outcome
            )
    return outcomes


def bridge_run(stop: threading.Event, *, trader_id: str | None = None, consumer: str = "bridge-1") -> None:
    """Apply node events until ``stop`` is set. Survives Redis and database outages by retrying.

    Entries are acknowledged only after the transaction that applied them committed. This
    consumer's un-acknowledged entries are re-read (and the group created if missing) at start
    and after any failure; otherwise everything read was acknowledged, and a read asks Redis
    for new entries only (two round trips fewer per read)."""
    stream = events_stream(trader_id)
    recovering = True
    while not stop.is_set():
        try:
            client = redis_client()
            entries = list(read_group(client, stream, GROUP, consumer, block_ms=500, pending=recovering))
            if entries:
                events_apply(entries)
                client.xack(stream, GROUP, *(entry.stream_id for entry in entries))
            recovering = False
        except Exception:
            recovering = True
            logger.warning("event bridge interrupted; retrying", exc_info=True)
            close_old_connections()
            stop.wait(1.0)
