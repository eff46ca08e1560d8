"""Position arithmetic of the book of record, in Decimals.

The same netting semantics as Nautilus's ``Position``: fills in the position's
direction move the average open price; fills against it realise
``closed_qty * (fill_px - avg_open) * direction * multiplier``; a fill larger
than the position flips it, opening the remainder at the fill price; every
commission in the settlement currency is subtracted from realised P&L.

Realised P&L is booked per fill in the settlement currency's minor units
(rounded half away from zero), as Nautilus books it (``Money`` at the
currency's precision on every fill): kept exact instead, the book would drift
from the engine by up to half a minor unit per fill. Unrealised P&L is a
valuation, not a booking, and stays exact.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

ZERO = Decimal("0")
# Average prices are stored with 10 decimals (the DB column); P&L stays exact.
AVG_PRICE_QUANTUM = Decimal("1e-10")
# Minor units of the currencies whose precision is not 2, as Nautilus's currency
# table has them (tests/portfolio/test_book.py holds the two tables equal).
CURRENCY_PRECISION = {
    **dict.fromkeys(("JPY", "KRW"), 0),
    **dict.fromkeys(("ADA", "USDC.e", "XRP", "XTZ", "pUSD"), 6),
    **dict.fromkeys(
        (
            "AAVE ACA ARB AVAX BCH BIO BNB BRZ BSV BTC BTTC BUSD CRV DASH DOGE DOT ENA EOS ETH ETHW FDUSD HYPE "
            "JOE LINK LTC LUNA NBT PROVE SOL SUI TRX TRYB TUSD UNI USDC USDP USDT VTC WSB XBT XEC XLM XMR ZEC"
        ).split(),
        8,
    ),
}


def currency_precision(currency: str) -> int:
    return CURRENCY_PRECISION.get(currency, 2)


def money_round(amount: Decimal, currency: str) -> Decimal:
    """``amount`` in ``currency``'s minor units, half away from zero like Nautilus's ``Money``."""
    return amount.quantize(Decimal(1).scaleb(-currency_precision(currency)), ROUND_HALF_UP)


@dataclass(frozen=True)
class PositionState:
    quantity: Decimal = ZERO  # signed: + long, - short
    avg_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    commissions: Decimal = ZERO

    @property
    def is_flat(self) -> bool:
        return self.quantity == ZERO


def signed_quantity(side: str, quantity: Decimal) -> Decimal:
    if not quantity.is_finite() or quantity <= ZERO:
        raise ValueError(f"fill quantity must be positive and finite, got {quantity}")
    if side == "BUY":
        return quantity
    if side == "SELL":
        return -quantity
    raise ValueError(f"unknown side {side!r}")


def apply_fill(
    state: PositionState,
    *,
    side: str,
    quantity: Decimal,
    price: Decimal,
    currency: str,
    commission: Decimal = ZERO,
    multiplier: Decimal = Decimal("1"),
) -> PositionState:
    """The position after one fill. ``currency`` is the settlement currency, which ``commission`` is in."""
    if not price.is_finite() or price <= ZERO:
        raise ValueError(f"fill price must be positive and finite, got {price}")
    delta = signed_quantity(side, quantity)
    q = state.quantity
    realized = state.realized_pnl - commission
    commissions = state.commissions + commission

    if q == ZERO or (q > ZERO) == (delta > ZERO):
        new_q = q + delta
        avg = (abs(q) * state.avg_price + quantity * price) / abs(new_q)
        return PositionState(new_q, avg.quantize(AVG_PRICE_QUANTUM, ROUND_HALF_EVEN), realized, commissions)

    closing = min(abs(q), quantity)
    direction = Decimal(1) if q > ZERO else Decimal(-1)
    realized += money_round(closing * (price - state.avg_price) * direction * multiplier, currency)
    new_q = q + delta
    if new_q == ZERO:
        return PositionState(ZERO, ZERO, realized, commissions)
    if (new_q > ZERO) == (q > ZERO):
        # Partly closed: the average open price of what is left does not change.
        return replace(state, quantity=new_q, realized_pnl=realized, commissions=commissions)
    # Flipped: the remainder opens at the fill price.
    return PositionState(new_q, price, realized, commissions)


def unrealized_pnl(state: PositionState, mark: Decimal, multiplier: Decimal = Decimal("1")) -> Decimal:
    if state.quantity == ZERO:
        return ZERO
    return state.quantity * (mark - state.avg_price) * multiplier
