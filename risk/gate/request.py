"""The order request the gate judges: plain, validated, Decimals only.

Every entry path (ticket, API, signal, strategy in the node) builds one of these
with ``order_request_build``; NaN, infinities, zero and negative quantities or
prices are refused here, before any of the gate's arithmetic sees them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

SIDES = frozenset({"BUY", "SELL"})
ORDER_TYPES = frozenset({"MARKET", "LIMIT", "STOP_MARKET", "STOP_LIMIT"})
NEEDS_PRICE = frozenset({"LIMIT", "STOP_LIMIT"})
NEEDS_TRIGGER = frozenset({"STOP_MARKET", "STOP_LIMIT"})
# Far beyond any real order, small enough that products stay exact in 28 digits.
MAX_MAGNITUDE = Decimal("1e15")


class OrderRequestError(ValueError):
    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_order_id: str
    account_id: int
    instrument_id: str  # Nautilus id, e.g. "EUR/USD.SIM"
    side: str
    order_type: str
    quantity: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    strategy_id: int | None = None
    reduce_only: bool = False

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("quantity", "price", "trigger_price"):
            if data[name] is not None:
                data[name] = str(data[name])
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OrderRequest:
        return order_request_build(**data)


def _positive_decimal(field: str, value: Any, *, required: bool) -> Decimal | None:
    if value is None or value == "":
        if required:
            raise OrderRequestError(field, "is required")
        return None
    if isinstance(value, bool | float):
        # A float has already lost the exact value; callers pass Decimal or str.
        raise OrderRequestError(field, "must be a Decimal or a decimal string, not a float")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise OrderRequestError(field, f"{value!r} is not a number")
    if not number.is_finite():
        raise OrderRequestError(field, "must be a finite number")
    if number <= 0:
        raise OrderRequestError(field, "must be greater than zero")
    if number > MAX_MAGNITUDE:
        raise OrderRequestError(field, "is absurdly large")
    return number


def order_request_build(
    *,
    client_order_id: str,
    account_id: int,
    instrument_id: str,
    side: str,
    order_type: str,
    quantity: Any,
    price: Any = None,
    trigger_price: Any = None,
    strategy_id: int | None = None,
    reduce_only: bool = False,
) -> OrderRequest:
    if not client_order_id or not isinstance(client_order_id, str) or len(client_order_id) > 64:
        raise OrderRequestError("client_order_id", "must be a non-empty string of at most 64 characters")
    if not isinstance(account_id, int) or isinstance(account_id, bool) or account_id <= 0:
        raise OrderRequestError("account_id", "must be a positive integer")
    if strategy_id is not None and (
        not isinstance(strategy_id, int) or isinstance(strategy_id, bool) or strategy_id <= 0
    ):
        raise OrderRequestError("strategy_id", "must be a positive integer or null")
    if not instrument_id or not isinstance(instrument_id, str):
        raise OrderRequestError("instrument_id", "is required")
    if side not in SIDES:
        raise OrderRequestError("side", f"must be one of {sorted(SIDES)}")
    if order_type not in ORDER_TYPES:
        raise OrderRequestError("order_type", f"must be one of {sorted(ORDER_TYPES)}")
    if not isinstance(reduce_only, bool):
        raise OrderRequestError("reduce_only", "must be true or false")
    qty = _positive_decimal("quantity", quantity, required=True)
    px = _positive_decimal("price", price, required=order_type in NEEDS_PRICE)
    trig = _positive_decimal("trigger_price", trigger_price, required=order_type in NEEDS_TRIGGER)
    if order_type == "MARKET" and (px is not None or trig is not None):
        raise OrderRequestError("price", "a market order has no price")
    assert qty is not None
    return OrderRequest(
        client_order_id=client_order_id,
        account_id=account_id,
        instrument_id=instrument_id,
        side=side,
        order_type=order_type,
        quantity=qty,
        price=px,
        trigger_price=trig,
        strategy_id=strategy_id,
        reduce_only=reduce_only,
    )


def order_request_from_order(order) -> OrderRequest:
    """From a ``trading.models.Order`` row (its instrument must be select_related or cheap)."""
    return order_request_build(
        client_order_id=order.client_order_id,
        account_id=order.account_id,
        instrument_id=order.instrument.instrument_id,
        side=order.side,
        order_type=order.order_type,
        quantity=order.quantity,
        price=order.price,
        trigger_price=order.trigger_price,
        strategy_id=order.strategy_id,
        reduce_only=order.reduce_only,
    )
