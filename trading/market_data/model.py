"""The offline venue's price model: seeded, sector-correlated, tick-exact quotes.

Each instrument has a fair value that follows a geometric random walk whose
shocks mix one common factor per sector with an idiosyncratic one, so names
in a sector move together. Quotes are the fair value rounded to the tick with
a spread of a few ticks sized from the asset class (FX tight, equities wider).
Prices leave the model as ``Decimal`` multiples of the tick: nothing
downstream sees a float price. Pure Python, no Nautilus import.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import Decimal

SECONDS_PER_YEAR = 365 * 24 * 3600

# Annualised volatility, typical half-spread in basis points of price and
# share of variance explained by the sector factor.
ASSET_CLASS_PARAMS: dict[str, tuple[float, float, float]] = {
    "fx": (0.08, 0.4, 0.6),
    "crypto": (0.60, 1.0, 0.7),
    "equity": (0.25, 2.0, 0.5),
    "future": (0.20, 1.0, 0.5),
    "cfd": (0.20, 1.5, 0.5),
}


@dataclass(frozen=True)
class ModelInstrument:
    instrument_id: str
    asset_class: str
    sector: str
    tick_size: Decimal
    lot_size: Decimal
    start_price: Decimal


@dataclass(frozen=True)
class ModelQuote:
    instrument_id: str
    bid: Decimal
    ask: Decimal
    bid_size: Decimal
    ask_size: Decimal


class QuoteModel:
    """Deterministic for a given seed and sequence of ``step`` calls."""

    def __init__(self, instruments: list[ModelInstrument], *, seed: int, volatility_scale: float = 1.0):
        self._rng = random.Random(seed)
        self._instruments = list(instruments)
        self._log_fair = {i.instrument_id: math.log(float(i.start_price)) for i in self._instruments}
        self._vol_scale = volatility_scale

    @property
    def instruments(self) -> list[ModelInstrument]:
        return self._instruments

    def step(self, dt_seconds: float) -> list[ModelQuote]:
        """Advance every instrument by ``dt_seconds`` and quote it."""
        rng = self._rng
        sector_shock = {s: rng.gauss(0.0, 1.0) for s in sorted({i.sector for i in self._instruments})}
        quotes = []
        for inst in self._instruments:
            vol, half_spread_bps, sector_share = ASSET_CLASS_PARAMS.get(inst.asset_class, (0.2, 1.0, 0.5))
            sigma = vol * self._vol_scale * math.sqrt(max(dt_seconds, 0.0) / SECONDS_PER_YEAR)
            z = math.sqrt(sector_share) * sector_shock[inst.sector] + math.sqrt(1 - sector_share) * rng.gauss(0, 1)
            self._log_fair[inst.instrument_id] += sigma * z - 0.5 * sigma * sigma
            quotes.append(self._quote(inst, math.exp(self._log_fair[inst.instrument_id]), half_spread_bps))
        return quotes

    def _quote(self, inst: ModelInstrument, fair: float, half_spread_bps: float) -> ModelQuote:
        rng = self._rng
        tick = float(inst.tick_size)
        # The spread breathes between 1x and 2x its typical width, never below one tick.
        half_ticks = max(1, round(fair * half_spread_bps * (1 + rng.random()) / 1e4 / tick))
        mid_ticks = max(half_ticks + 1, round(fair / tick))
        bid = inst.tick_size * (mid_ticks - half_ticks)
        ask = inst.tick_size * (mid_ticks + half_ticks)
        return ModelQuote(
            instrument_id=inst.instrument_id,
            bid=bid,
            ask=ask,
            bid_size=inst.lot_size * rng.randint(1, 100) * _size_scale(inst),
            ask_size=inst.lot_size * rng.randint(1, 100) * _size_scale(inst),
        )


def _size_scale(inst: ModelInstrument) -> int:
    # Top-of-book sizes a desk order rarely exhausts, as on a real venue: EUR/USD quotes
    # 100k-10M (lots of 1,000 units), equities 100-10,000 shares, crypto lots are tiny.
    # Nautilus's live sandbox leaves the rest of a market order that outgrows the top of
    # its L1 book working, partially filled, until the order is canceled; with 1-100 lots a
    # 10,000 EUR market order did that about one time in eleven.
    return {"crypto": 1000, "fx": 100, "equity": 100}.get(inst.asset_class, 10)
