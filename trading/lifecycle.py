"""The order lifecycle: the one state machine every order status change goes through.

    PENDING -> RISK_CHECK -> APPROVED | REJECTED
    APPROVED -> SUBMITTED -> ACCEPTED -> PARTIALLY_FILLED -> FILLED
    plus CANCELED, EXPIRED and VENUE_REJECTED from the states where a venue can say so.

An illegal transition raises ``IllegalTransition`` before anything is written.
"""

from __future__ import annotations

import logging

from django.db import transaction

from monitoring.metrics import order_status_inc
from trading.models import Order, OrderEvent, OrderStatus

S = OrderStatus

TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.RISK_CHECK}),
    S.RISK_CHECK: frozenset({S.APPROVED, S.REJECTED}),
    # An approved order can still be refused before it leaves (kill switch engaged
    # meanwhile, node unreachable past the deadline) or canceled by its owner.
    S.APPROVED: frozenset({S.SUBMITTED, S.REJECTED, S.CANCELED}),
    # Venues may report a fill before (or instead of) the acceptance event.
    S.SUBMITTED: frozenset({S.ACCEPTED, S.VENUE_REJECTED, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}),
    S.ACCEPTED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}),
    S.REJECTED: frozenset(),
    S.FILLED: frozenset(),
    S.CANCELED: frozenset(),
    S.EXPIRED: frozenset(),
    S.VENUE_REJECTED: frozenset(),
}

TERMINAL_STATUSES = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
OPEN_STATUSES = frozenset(TRANSITIONS) - TERMINAL_STATUSES
# Orders working at the venue (count toward open-order limits and exposure).
WORKING_STATUSES = frozenset({S.APPROVED, S.SUBMITTED, S.ACCEPTED, S.PARTIALLY_FILLED})
# Statuses that end an order without (more) fills: they carry the reason and release the reservation.
CLOSING_STATUSES = frozenset({S.REJECTED, S.VENUE_REJECTED, S.CANCELED, S.EXPIRED})


def _reservation_release(order: Order) -> None:
    from risk.services import order_reservation_release

    try:
        order_reservation_release(order=order)
    except Exception:
        # Redis down: the risk monitor releases leftover reservations after a while.
        logging.getLogger(__name__).warning(
            "could not release the reservation of %s", order.client_order_id, exc_info=True
        )


class IllegalTransition(Exception):
    def __init__(self, order: Order, to_status: str, *, from_status: str | None = None):
        self.order = order
        self.from_status = from_status or order.status
        self.to_status = to_status
        super().__init__(f"Order {order.client_order_id} cannot go from {self.from_status} to {to_status}.")


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def order_transition(
    order: Order,
    to_status: str,
    *,
    message: str = "",
    data: dict | None = None,
    update_fields: dict | None = None,
) -> OrderEvent:
    """Move ``order`` to ``to_status`` and write its timeline event.

    Precondition: the caller holds ``select_for_update`` on the order row (or the
    row was created in this transaction), so two processes cannot both move it.
    ``update_fields`` are other order fields to save with the transition.
    """
    return order_transitions(order, [(to_status, message)], data=data, update_fields=update_fields)[0]


def order_transitions(
    order: Order,
    steps: list[tuple[str, str]] | list[tuple[str, str, dict | None]],
    *,
    data: dict | None = None,
    update_fields: dict | None = None,
    before: list[OrderEvent] | None = None,
) -> list[OrderEvent]:
    """Move ``order`` through ``steps`` — ``(status, message[, data])``, in order — with one
    UPDATE of the order and one INSERT of all their timeline events (and of ``before``,
    unsaved events that precede them, e.g. ``order_created_event``).

    Every step is checked before anything is written or changed. Same precondition as
    ``order_transition``; a step without its own data gets ``data``; ``update_fields`` are
    saved with them.
    """
    status = order.status
    for to_status, *_ in steps:
        if to_status not in TRANSITIONS:
            raise ValueError(f"Unknown order status {to_status!r}.")
        if not can_transition(status, to_status):
            raise IllegalTransition(order, to_status, from_status=status)
        status = to_status
    # No savepoint: the caller's transaction (if any) fails as a whole, and a savepoint
    # around two writes only cost two more round trips.
    with transaction.atomic(savepoint=False):
        events = list(before or ())
        fields = {"status", "updated_at"}
        for name, value in (update_fields or {}).items():
            setattr(order, name, value)
            fields.add(name)
        for to_status, message, *step_data in steps:
            event_data = (step_data[0] if step_data else None) or data or {}
            events.append(
                OrderEvent(order=order, from_status=order.status, to_status=to_status, message=message, data=event_data)
            )
            order.status = to_status
            transaction.on_commit(lambda to_status=to_status: order_status_inc(to_status, order.source))
            if to_status in CLOSING_STATUSES and message:
                order.status_reason = message
                fields.add("status_reason")
        order.save(update_fields=sorted(fields))
        if order.status in CLOSING_STATUSES:
            # The order will never fill (more): give its unused risk headroom back.
            transaction.on_commit(lambda: _reservation_release(order))
        OrderEvent.objects.bulk_create(events)
        return events[len(before or ()) :]


def order_created_event(order: Order, *, message: str = "Order received") -> OrderEvent:
    """The first timeline row of a new order, unsaved (for ``order_transitions(before=...)``)."""
    return OrderEvent(order=order, from_status="", to_status=order.status, message=message)


def order_record_created(order: Order, *, message: str = "Order received") -> OrderEvent:
    """The first timeline row of a new order (no transition: it is born PENDING)."""
    return OrderEvent.objects.create(order=order, from_status="", to_status=order.status, message=message)


def path_to(from_status: str, to_status: str) -> list[str] | None:
    """The shortest list of statuses leading from ``from_status`` to ``to_status``
    (excluding the start), or None when it cannot be reached. Used when a venue
    event arrives for an order whose earlier events were implicit (a fill
    reported before the acceptance)."""
    if from_status == to_status:
        return []
    frontier = [[from_status]]
    seen = {from_status}
    while frontier:
        path = frontier.pop(0)
        for nxt in sorted(TRANSITIONS[path[-1]]):
            if nxt in seen:
                continue
            if nxt == to_status:
                return [*path[1:], nxt]
            if nxt not in TERMINAL_STATUSES:
                seen.add(nxt)
                frontier.append([*path, nxt])
    return None


def order_record_event(order: Order, *, message: str, data: dict | None = None) -> OrderEvent:
    """A timeline entry that does not change the status (triggered, modified, refused cancel...)."""
    return OrderEvent.objects.create(
        order=order, from_status=order.status, to_status=order.status, message=message, data=data or {}
    )
