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
    def __init__(self, order: Order, to_status: str):
        self.order = order
        self.from_status = order.status
        self.to_status = to_status
        super().__init__(f"Order {order.client_order_id} cannot go from {order.status} to {to_status}.")


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
    if to_status not in TRANSITIONS:
        raise ValueError(f"Unknown order status {to_status!r}.")
    if not can_transition(order.status, to_status):
        raise IllegalTransition(order, to_status)
    with transaction.atomic():
        from_status = order.status
        order.status = to_status
        fields = {"status", "updated_at"}
        for name, value in (update_fields or {}).items():
            setattr(order, name, value)
            fields.add(name)
        if to_status in (S.REJECTED, S.VENUE_REJECTED, S.CANCELED, S.EXPIRED) and message:
            order.status_reason = message
            fields.add("status_reason")
        order.save(update_fields=sorted(fields))
        transaction.on_commit(lambda: order_status_inc(to_status, order.source))
        if to_status in (S.REJECTED, S.VENUE_REJECTED, S.CANCELED, S.EXPIRED):
            # The order will never fill (more): give its unused risk headroom back.
            transaction.on_commit(lambda: _reservation_release(order))
        return OrderEvent.objects.create(
            order=order, from_status=from_status, to_status=to_status, message=message, data=data or {}
        )


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
