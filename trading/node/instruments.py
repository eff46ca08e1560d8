"""Nautilus instruments built from ``trading.Instrument`` rows (node process only).

Precisions come exactly from the row's tick and lot sizes. FX and crypto rows
become ``CurrencyPair``; equities become ``Equity``. Fees are the simulated
venue's schedule per asset class (the row has no fee columns): the sandbox's
``MakerTakerFeeModel`` charges them on every fill.
"""

from __future__ import annotations

from decimal import Decimal

from nautilus_trader.model.identifiers import InstrumentId, Symbol
from nautilus_trader.model.instruments import CurrencyPair, Equity
from nautilus_trader.model.instruments.base import Instrument as NautilusInstrument
from nautilus_trader.model.objects import Currency, Price, Quantity

from trading.models import Instrument

# (maker, taker) fee rates of the simulated venue, as fractions of notional.
SIM_FEES: dict[str, tuple[Decimal, Decimal]] = {
    "fx": (Decimal("0.00002"), Decimal("0.00002")),
    "crypto": (Decimal("0.0008"), Decimal("0.001")),
    "equity": (Decimal("0.0001"), Decimal("0.0002")),
}
DEFAULT_FEES = (Decimal("0.0001"), Decimal("0.0002"))
MARGIN = {"fx": Decimal("0.03"), "crypto": Decimal("0.10"), "equity": Decimal("0.20")}


class UnsupportedInstrument(ValueError):
    pass


def _currency(code: str) -> Currency:
    return Currency.from_str(code)


def _fixed(value: Decimal, precision: int) -> str:
    return f"{value:.{precision}f}"


def build_instrument(row: Instrument) -> NautilusInstrument:
    price_precision = row.price_precision
    size_precision = row.size_precision
    maker, taker = SIM_FEES.get(row.asset_class, DEFAULT_FEES)
    margin = MARGIN.get(row.asset_class, Decimal("0.10"))
    instrument_id = InstrumentId.from_str(row.instrument_id)
    tick = Price.from_str(_fixed(row.tick_size, price_precision))
    common = {
        "instrument_id": instrument_id,
        "raw_symbol": Symbol(row.symbol),
        "price_precision": price_precision,
        "price_increment": tick,
        "ts_event": 0,
        "ts_init": 0,
        "margin_init": margin,
        "margin_maint": margin / 2,
        "maker_fee": maker,
        "taker_fee": taker,
    }
    if row.max_quantity:
        common["max_quantity"] = Quantity.from_str(_fixed(row.max_quantity, size_precision))
    if row.min_quantity:
        common["min_quantity"] = Quantity.from_str(_fixed(row.min_quantity, size_precision))
    if row.asset_class in ("fx", "crypto"):
        if not row.base_currency:
            raise UnsupportedInstrument(f"{row.instrument_id}: a currency pair needs a base currency")
        return CurrencyPair(
            base_currency=_currency(row.base_currency),
            quote_currency=_currency(row.quote_currency),
            size_precision=size_precision,
            size_increment=Quantity.from_str(_fixed(row.lot_size, size_precision)),
            lot_size=Quantity.from_str(_fixed(row.lot_size, size_precision)),
            **common,
        )
    if row.asset_class == "equity":
        if size_precision != 0:
            raise UnsupportedInstrument(
                f"{row.instrument_id}: equities trade whole shares (lot size must be an integer)"
            )
        return Equity(currency=_currency(row.quote_currency), lot_size=Quantity.from_int(int(row.lot_size)), **common)
    raise UnsupportedInstrument(f"{row.instrument_id}: asset class {row.asset_class!r} is not simulated yet")
