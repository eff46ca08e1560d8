"""CSV layouts of historical data and their strict validation (no Nautilus import).

``parse_csv(kind, text, source=...)`` returns validated rows or raises
``CatalogImportError`` listing every problem as ``file:line: field: message``
(up to ``MAX_ERRORS``). Nothing is written by this module, so an invalid file
can never be partially imported.

Layouts (header names are case-insensitive; aliases in ``ALIASES``):
  bars    timestamp, open, high, low, close[, volume]
  quotes  timestamp, bid, ask[, bid_size, ask_size]
  trades  timestamp, price, size[, side, trade_id]
          also Binance's trade-history files (no header):
          id, price, qty, quote_qty, time(ms|us), is_buyer_maker[, is_best_match]
Timestamps: ISO 8601 (UTC if no offset, nanoseconds allowed) or epoch
seconds/milliseconds/microseconds/nanoseconds, and strictly increasing for
bars, non-decreasing for ticks.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

KINDS = ("bars", "quotes", "trades")
MAX_ERRORS = 20

REQUIRED = {
    "bars": ("timestamp", "open", "high", "low", "close"),
    "quotes": ("timestamp", "bid", "ask"),
    "trades": ("timestamp", "price", "size"),
}
OPTIONAL = {
    "bars": ("volume",),
    "quotes": ("bid_size", "ask_size"),
    "trades": ("side", "trade_id"),
}
ALIASES = {
    "timestamp": ("timestamp", "time", "ts", "datetime", "date", "ts_event", "open_time"),
    "bid": ("bid", "bid_price"),
    "ask": ("ask", "ask_price"),
    "bid_size": ("bid_size", "bid_qty", "bid_volume"),
    "ask_size": ("ask_size", "ask_qty", "ask_volume"),
    "size": ("size", "qty", "quantity", "amount", "volume"),
    "side": ("side", "aggressor_side", "taker_side"),
    "trade_id": ("trade_id", "id", "tid"),
    "volume": ("volume", "vol"),
}


class CatalogImportError(ValueError):
    def __init__(self, errors: list[str]):
        self.errors = errors
        more = "" if len(errors) < MAX_ERRORS else f" (first {MAX_ERRORS} shown)"
        super().__init__(f"{len(errors)} problem(s){more}: " + "; ".join(errors))


@dataclass(frozen=True)
class Row:
    ts_ns: int
    values: dict[str, Decimal | str | None]
    line: int = 0


_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$")


def parse_timestamp(text: str) -> int:
    """Epoch nanoseconds from ISO 8601 or an epoch number (unit inferred from its size)."""
    text = text.strip()
    if re.fullmatch(r"\d+", text):
        n = int(text)
        if n < 10**11:
            return n * 10**9
        if n < 10**14:
            return n * 10**6
        if n < 10**17:
            return n * 10**3
        return n
    m = _ISO.match(text)
    if not m:
        raise ValueError("expected an ISO 8601 time or epoch number")
    date, clock, frac, tz = m.groups()
    base = datetime.fromisoformat(f"{date}T{clock}{'' if tz in (None, 'Z') else tz}")
    if base.tzinfo is None:
        base = base.replace(tzinfo=UTC)
    seconds = int(base.timestamp())
    return seconds * 10**9 + int((frac or "0").ljust(9, "0"))


def format_timestamp(ts_ns: int) -> str:
    seconds, nanos = divmod(ts_ns, 10**9)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def _decimal(text: str, *, positive: bool) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"expected a number, got {text!r}")
    if not value.is_finite():
        raise ValueError(f"expected a finite number, got {text!r}")
    if positive and value <= 0:
        raise ValueError(f"must be positive, got {text}")
    if value < 0:
        raise ValueError(f"must not be negative, got {text}")
    return value


def _is_binance_trades(first: list[str]) -> bool:
    return len(first) in (6, 7) and all(re.fullmatch(r"-?[\d.]+", c.strip()) for c in first[:5])


def _header_map(kind: str, header: list[str], source: str) -> dict[str, int]:
    cleaned = [h.strip().lower() for h in header]
    mapping: dict[str, int] = {}
    for name in (*REQUIRED[kind], *OPTIONAL[kind]):
        for alias in ALIASES.get(name, (name,)):
            if alias in cleaned and cleaned.index(alias) not in mapping.values():
                mapping[name] = cleaned.index(alias)
                break
    missing = [n for n in REQUIRED[kind] if n not in mapping]
    if missing:
        raise CatalogImportError(
            [f"{source}:1: header: missing column(s) {', '.join(missing)} (found: {', '.join(cleaned) or 'none'})"]
        )
    return mapping


def parse_csv(kind: str, text: str, *, source: str = "upload.csv") -> list[Row]:
    if kind not in KINDS:
        raise CatalogImportError([f"{source}: kind: expected one of {', '.join(KINDS)}, got {kind!r}"])
    lines = list(csv.reader(io.StringIO(text)))
    lines = [(n, r) for n, r in enumerate(lines, start=1) if r and any(c.strip() for c in r)]
    if not lines:
        raise CatalogImportError([f"{source}: the file has no rows"])
    if kind == "trades" and _is_binance_trades(lines[0][1]):
        mapping = {"trade_id": 0, "price": 1, "size": 2, "timestamp": 4, "side": 5}
        body, binance = lines, True
    else:
        mapping = _header_map(kind, lines[0][1], source)
        body, binance = lines[1:], False
    if not body:
        raise CatalogImportError([f"{source}: the file has a header but no data rows"])
    errors: list[str] = []
    rows: list[Row] = []
    prev_ts: int | None = None
    for line_no, cells in body:

        def cell(name: str, *, ln=line_no, c=cells) -> str | None:
            idx = mapping.get(name)
            if idx is None:
                return None
            if idx >= len(c):
                raise _FieldError(name, f"missing (row has {len(c)} columns)")
            return c[idx]

        try:
            values: dict[str, Decimal | str | None] = {}
            ts_text = cell("timestamp")
            try:
                ts = parse_timestamp(ts_text or "")
            except ValueError as exc:
                raise _FieldError("timestamp", str(exc))
            if prev_ts is not None and (ts < prev_ts or (kind == "bars" and ts == prev_ts)):
                raise _FieldError("timestamp", f"not after the previous row ({format_timestamp(prev_ts)})")
            for name in (*REQUIRED[kind], *OPTIONAL[kind]):
                if name == "timestamp":
                    continue
                raw = cell(name)
                if raw is None or (name in OPTIONAL[kind] and raw.strip() == ""):
                    values[name] = None
                    continue
                if name == "side":
                    values[name] = _side(raw, binance=binance)
                elif name == "trade_id":
                    values[name] = raw.strip()
                else:
                    try:
                        values[name] = _decimal(raw, positive=name not in ("volume", "bid_size", "ask_size"))
                    except ValueError as exc:
                        raise _FieldError(name, str(exc))
            _check_consistency(kind, values)
            rows.append(Row(ts_ns=ts, values=values, line=line_no))
            prev_ts = ts
        except _FieldError as exc:
            errors.append(f"{source}:{line_no}: {exc.field}: {exc.message}")
            if len(errors) >= MAX_ERRORS:
                break
    if errors:
        raise CatalogImportError(errors)
    return rows


class _FieldError(Exception):
    def __init__(self, field: str, message: str):
        self.field, self.message = field, message


def _side(raw: str, *, binance: bool) -> str:
    text = raw.strip().lower()
    if binance:
        # is_buyer_maker true means the seller was the aggressor.
        if text in ("true", "1"):
            return "SELL"
        if text in ("false", "0"):
            return "BUY"
    if text in ("buy", "b", "buyer"):
        return "BUY"
    if text in ("sell", "s", "seller"):
        return "SELL"
    if text in ("", "none", "unknown"):
        return "NONE"
    raise _FieldError("side", f"expected buy/sell, got {raw!r}")


def _check_consistency(kind: str, v: dict) -> None:
    if kind == "bars":
        o, h, low, c = v["open"], v["high"], v["low"], v["close"]
        if h < max(o, c, low):
            raise _FieldError("high", f"{h} is below open/low/close")
        if low > min(o, c, h):
            raise _FieldError("low", f"{low} is above open/high/close")
    elif kind == "quotes" and v["bid"] > v["ask"]:
        raise _FieldError("bid", f"bid {v['bid']} above ask {v['ask']} (crossed quote)")
