"""Template filters of the desk: exact Decimal display, status colours.

Numbers are formatted from ``Decimal`` with ``format()``, never through float,
so a price shows exactly what the book holds.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from django import template

register = template.Library()

LEVEL_CLASSES = {"green": "ok", "amber": "warn", "red": "bad", "unknown": "idle"}

# Order / strategy / alert states -> badge tone.
STATUS_TONES = {
    # orders
    "PENDING": "idle",
    "RISK_CHECK": "info",
    "APPROVED": "info",
    "SUBMITTED": "info",
    "ACCEPTED": "info",
    "PARTIALLY_FILLED": "warn",
    "FILLED": "ok",
    "CANCELED": "idle",
    "EXPIRED": "idle",
    "REJECTED": "bad",
    "VENUE_REJECTED": "bad",
    # strategies
    "draft": "idle",
    "validated": "info",
    "simulation": "ok",
    "live": "ok",
    "paused": "warn",
    "stopped": "idle",
    "deleted": "idle",
    # alerts
    "open": "bad",
    "acknowledged": "warn",
    "resolved": "idle",
    "critical": "bad",
    "warning": "warn",
    "info": "info",
    # accounts
    "connected": "ok",
    "disconnected": "bad",
    "disabled": "idle",
}


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, float):
        # Never format a float as if it were exact; go through its shortest repr.
        value = repr(value)
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None


@register.filter
def fixed(value, places=2):
    """``value`` with at least ``places`` decimals, more only when the value has them.

    ``1.085`` at 5 places -> ``1.08500``; an average fill price ``1.085012`` at
    5 places stays ``1.085012`` rather than being rounded away. Thousands are
    grouped with commas.
    """
    d = _decimal(value)
    if d is None:
        return "—"
    try:
        places = max(0, int(places))
    except (TypeError, ValueError):
        places = 2
    quantum = Decimal(1).scaleb(-places)
    rounded = d.quantize(quantum)
    if rounded != d:
        # Keep every significant digit: display is exact, not rounded.
        rounded = d.normalize()
        if rounded.as_tuple().exponent > 0:
            rounded = rounded.quantize(Decimal(1))
    return format(rounded, ",f")


@register.filter
def money(value, places=2):
    """An amount of money to the cent (banker's rounding of the exact stored value).

    Prices and quantities keep every digit (``fixed``); P&L, balances and totals
    are read in cents, and ten decimals of a P&L figure only hide the number."""
    d = _decimal(value)
    if d is None:
        return "—"
    try:
        places = max(0, int(places))
    except (TypeError, ValueError):
        places = 2
    rounded = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    # -0.004 is "0.00", not "-0.00": a sign on nothing reads as a loss.
    return format(rounded.copy_abs() if rounded == 0 else rounded, ",f")


@register.filter
def signed(value, places=2):
    """Money with an explicit + for gains."""
    d = _decimal(value)
    if d is None:
        return "—"
    text = money(d, places)
    return f"+{text}" if d > 0 and text.strip("0.,") else text


@register.filter
def pnl_class(value) -> str:
    d = _decimal(value)
    if d is None or d == 0:
        return ""
    return "pos" if d > 0 else "neg"


@register.filter
def level_class(level) -> str:
    return LEVEL_CLASSES.get(str(level), "idle")


@register.filter
def tone(status) -> str:
    return STATUS_TONES.get(str(status), "idle")


@register.filter
def side_class(side) -> str:
    return "buy" if str(side).upper() in ("BUY", "LONG") else "sell" if str(side).upper() in ("SELL", "SHORT") else ""


@register.filter
def get(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.simple_tag
def header_status() -> dict:
    """The header strip before the first live push: pages never wait on Redis to render."""
    from monitoring.status import placeholder_status

    return placeholder_status()
