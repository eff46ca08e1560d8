"""Market data for backtests: the Parquet catalog when it covers the range, seeded synthetic data otherwise.

Both sources hand the engine consecutive time windows (``DataPlan.windows``),
so a backtest streams the range in chunks: progress and cancel are checked
between windows and a catalog range larger than memory is never loaded whole.

Synthetic data is a seeded geometric random walk per instrument (volatility by
asset class) with OHLC bars built from it: the same seed, instrument and range
always give the same bars, so backtests over it are reproducible.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.conf import settings

CATALOG = "catalog"
SYNTHETIC = "synthetic"
TICK = "tick"

# Daily volatility of the synthetic walk per asset class (fractions of price).
DAILY_VOLATILITY = {"fx": 0.006, "crypto": 0.03, "equity": 0.015}
DEFAULT_DAILY_VOLATILITY = 0.01
STEP_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}
# Synthetic quotes are one per this many seconds.
TICK_INTERVAL_SECONDS = 1


@dataclass
class DataPlan:
    """What a backtest will feed the engine, window by window."""

    source: str  # CATALOG or SYNTHETIC
    kind: str  # "bars" or "quotes"
    windows: list[tuple[datetime, datetime]]
    _loader: object = field(repr=False, default=None)
    _preloaded: list | None = field(repr=False, default=None)

    def chunks(self) -> Iterator[list]:
        """Yield the data of each window in time order (a window may be empty)."""
        if self._preloaded is not None:
            items = self._preloaded
            position = 0
            last = len(self.windows) - 1
            for n, (_, end) in enumerate(self.windows):
                # Bars are stamped at their close: the last window keeps the bar closing at ``end``.
                end_ns = _ns(end) + (1 if n == last else 0)
                stop = bisect.bisect_left(items, end_ns, lo=position, key=lambda item: item.ts_init)
                yield items[position:stop]
                position = stop
            return
        last = len(self.windows) - 1
        for n, (start, end) in enumerate(self.windows):
            yield self._loader(start, end, n == last)


def _ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000) * 1000


def split_windows(start: datetime, end: datetime, count: int) -> list[tuple[datetime, datetime]]:
    count = max(1, count)
    span = (end - start) / count
    edges = [start + span * i for i in range(count)] + [end]
    return [(edges[i], edges[i + 1]) for i in range(count)]


def bar_step(bar_spec: str) -> timedelta:
    step, unit, _price = bar_spec.split("-")
    return timedelta(seconds=int(step) * STEP_SECONDS[unit])


def catalog_covers(
    *, kind: str, identifier: str, start: datetime, end: datetime, step: timedelta, path: str | Path | None = None
) -> bool:
    """True when the catalog holds ``identifier`` data over the whole ``[start, end)``.

    ``step`` is one bar's length (zero for quotes): bars are stamped at their close,
    so the last bar of a covered range may close up to a step before ``end``."""
    from nautilus_trader.model.data import Bar, QuoteTick
    from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog

    root = Path(path or settings.NAUTILUS_DATA_PATH)
    if not root.exists():
        return False
    catalog = ParquetDataCatalog(str(root))
    cls = Bar if kind == "bars" else QuoteTick
    try:
        intervals = sorted(catalog.get_intervals(cls, identifier))
    except Exception:  # an empty or foreign catalog directory: no coverage
        return False
    if not intervals:
        return False
    first, last = intervals[0][0], max(b for _, b in intervals)
    return first <= _ns(start) + int(step.total_seconds() * 1e9) and last >= _ns(end) - int(step.total_seconds() * 1e9)


def catalog_plan(*, kind: str, identifier: str, windows, path: str | Path | None = None) -> DataPlan:
    from nautilus_trader.persistence.catalog.parquet import ParquetDataCatalog

    catalog = ParquetDataCatalog(str(Path(path or settings.NAUTILUS_DATA_PATH)))

    def load(start: datetime, end: datetime, last: bool) -> list:
        # Catalog ranges are inclusive at both ends; windows are half-open (the last one
        # closed) so no bar lands in two windows and none is lost.
        end_ns = _ns(end) - (0 if last else 1)
        if kind == "bars":
            return catalog.bars(bar_types=[identifier], start=_ns(start), end=end_ns)
        return catalog.quote_ticks(instrument_ids=[identifier], start=_ns(start), end=end_ns)

    return DataPlan(source=CATALOG, kind=kind, windows=windows, _loader=load)


def synthetic_bars(
    *,
    instrument,
    bar_type,
    bar_spec: str,
    start: datetime,
    end: datetime,
    seed: int,
    start_price: Decimal,
    asset_class: str = "",
) -> list:
    """Seeded OHLC bars closing every step in ``(start, end]``."""
    import numpy as np
    import pandas as pd
    from nautilus_trader.persistence.wranglers import BarDataWrangler

    step = bar_step(bar_spec)
    count = int((end - start) / step)
    if count <= 0:
        return []
    rng = np.random.default_rng(seed)
    sigma = DAILY_VOLATILITY.get(asset_class, DEFAULT_DAILY_VOLATILITY) * np.sqrt(step.total_seconds() / 86400)
    returns = rng.normal(0.0, sigma, count)
    closes = float(start_price) * np.exp(np.cumsum(returns))
    opens = np.empty(count)
    opens[0] = float(start_price)
    opens[1:] = closes[:-1]
    wick = np.abs(rng.normal(0.0, sigma / 2, (2, count))) * closes
    frame = pd.DataFrame(
        {
            "open": opens,
            "high": np.maximum(opens, closes) + wick[0],
            "low": np.maximum(np.minimum(opens, closes) - wick[1], closes * 0.5),
            "close": closes,
            "volume": np.full(count, 1_000_000.0),
        },
        index=pd.date_range(start + step, periods=count, freq=step, tz=UTC),
    )
    return BarDataWrangler(bar_type, instrument).process(frame)


def synthetic_quotes(
    *, instrument, start: datetime, end: datetime, seed: int, start_price: Decimal, asset_class: str = ""
) -> list:
    """Seeded quotes every ``TICK_INTERVAL_SECONDS`` with a spread of a few ticks."""
    import numpy as np
    import pandas as pd
    from nautilus_trader.persistence.wranglers import QuoteTickDataWrangler

    step = timedelta(seconds=TICK_INTERVAL_SECONDS)
    count = int((end - start) / step)
    if count <= 0:
        return []
    rng = np.random.default_rng(seed)
    sigma = DAILY_VOLATILITY.get(asset_class, DEFAULT_DAILY_VOLATILITY) * np.sqrt(step.total_seconds() / 86400)
    mids = float(start_price) * np.exp(np.cumsum(rng.normal(0.0, sigma, count)))
    tick = float(instrument.price_increment.as_double())
    half = np.maximum(tick, mids * 0.00005) * (1 + rng.integers(0, 3, count))
    frame = pd.DataFrame(
        {
            "bid_price": mids - half,
            "ask_price": mids + half,
            "bid_size": np.full(count, 1_000_000.0),
            "ask_size": np.full(count, 1_000_000.0),
        },
        index=pd.date_range(start + step, periods=count, freq=step, tz=UTC),
    )
    return QuoteTickDataWrangler(instrument).process(frame)


def synthetic_plan(*, data: list, kind: str, windows) -> DataPlan:
    return DataPlan(source=SYNTHETIC, kind=kind, windows=windows, _preloaded=data)


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
