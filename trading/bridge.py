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

from monitoring.logging import correlation
from monitoring.redis_client import redis_client
from trading.commands import StreamEntry, events_stream, read_group
from trading.lifecycle import TERMINAL_STATUSES, order_record_event, order_transition, path_to
from trading.models import Order, OrderStatus
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


def event_apply(entry: StreamEntry) -> str:
    """Apply one node event. Returns what happened ("applied", "duplicate", "unknown order", ...)."""
    body = entry.body
    client_order_id = body.get("client_order_id", "")
    with transaction.atomic():
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
        data = {k: v for k, v in body.items() if k != "client_order_id"}

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

        if entry.type in ("denied", "rejected") and order.status in (S.ACCEPTED, S.PARTIALLY_FILLED):
            # A restarted node closing an order its (in-process) venue lost: the desk saw the venue
            # accept it before the kill, so from here it is canceled, with the node's reason.
            reason = body.get("reason", "")
            moved = _advance(order, S.CANCELED, message=f"Canceled: {reason}", data=data)
        elif entry.type == "denied":
            reason = body.get("reason", "denied by the engine")
            target = S.REJECTED if order.status == S.APPROVED else S.VENUE_REJECTED
            moved = _advance(order, target, message=f"Denied before the venue: {reason}", data=data)
        elif entry.type in STATUS_EVENTS:
            target = STATUS_EVENTS[entry.type]
            reason = body.get("reason", "")
            message = {
                S.SUBMITTED: "Submitted to venue",
                S.ACCEPTED: "Accepted by venue",
                S.VENUE_REJECTED: f"Rejected by venue: {reason}",
                S.CANCELED: f"Canceled{': ' + reason if reason else ''}",
                S.EXPIRED: "Expired",
            }[target]
            updates = {}
            if body.get("venue_order_id") and not order.venue_order_id:
                updates["venue_order_id"] = body["venue_order_id"]
            moved = _advance(order, target, message=message, data=data, update_fields=updates)
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
            order_record_event(
                order, message="Modified: " + ", ".join(f"{k} {v}" for k, v in fields.items()), data=data
            )
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
            from monitoring.broadcast import publish_on_commit

            publish_on_commit("orders", entry.type, order_payload(order))
        return "applied" if moved else "duplicate"


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
    entries at once, and each commit is a WAL flush. Each entry still runs in its own
    savepoint (``event_apply``), so one that cannot be applied changes nothing else."""
    with transaction.atomic():
        return [_entry_apply(entry) for entry in entries]


def bridge_run(stop: threading.Event, *, trader_id: str | None = None, consumer: str = "bridge-1") -> None:
    """Apply node events until ``stop`` is set. Survives Redis and database outages by retrying.

    Entries are acknowledged only after the transaction that applied them committed."""
    stream = events_stream(trader_id)
    while not stop.is_set():
        try:
            client = redis_client()
            entries = list(read_group(client, stream, GROUP, consumer, block_ms=500))
            if entries:
                events_apply(entries)
                client.xack(stream, GROUP, *(entry.stream_id for entry in entries))
        except Exception:
            logger.warning("event bridge interrupted; retrying", exc_info=True)
            close_old_connections()
            stop.wait(1.0)
