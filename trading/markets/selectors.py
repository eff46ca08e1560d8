"""Reads behind the Markets pages: instruments joined with live quotes and feed state from Redis."""

from __future__ import annotations

import json
from decimal import Decimal

import redis

from monitoring.models import Alert
from monitoring.redis_client import redis_client
from trading.market_data.quotes import FEEDS_KEY, QUOTES_KEY, STALE_AFTER_SECONDS
from trading.models import Instrument

INSTRUMENT_FEEDS_KEY = "ni:feed:instruments"
TICKS_KEY = "ni:ticks:{instrument_id}"
SORTS = {"symbol", "-symbol", "asset_class", "spread", "-spread", "change", "-change", "rate", "-rate", "age", "-age"}


def _hash(key: str) -> dict[str, dict]:
    try:
        return {k.decode(): json.loads(v) for k, v in redis_client().hgetall(key).items()}
    except redis.RedisError:
        return {}


def market_rows(*, asset_class: str = "", search: str = "", sort: str = "symbol", now: float) -> list[dict]:
    qs = Instrument.objects.select_related("sector", "venue").order_by("symbol")
    if asset_class:
        qs = qs.filter(asset_class=asset_class)
    if search:
        qs = qs.filter(symbol__icontains=search) | qs.filter(instrument_id__icontains=search)
    quotes, feeds, sources = _hash(QUOTES_KEY), _hash(INSTRUMENT_FEEDS_KEY), _hash(FEEDS_KEY)
    rows = []
    for inst in qs:
        q = quotes.get(inst.instrument_id)
        feed = feeds.get(inst.instrument_id, {})
        row = {
            "instrument": inst,
            "instrument_id": inst.instrument_id,
            "symbol": inst.symbol,
            "asset_class": inst.asset_class,
            "sector": inst.sector.name,
            "bid": None,
            "ask": None,
            "last": None,
            "spread": None,
            "change": None,
            "change_pct": None,
            "age": None,
            "rate": feed.get("rate"),
            "source": q.get("source") if q else inst.venue.code,
            "status": "no data",
        }
        if q:
            bid, ask = Decimal(q["bid"]), Decimal(q["ask"])
            mid = (bid + ask) / 2
            row.update(
                bid=q["bid"], ask=q["ask"], last=q.get("last"), spread=ask - bid, age=max(0.0, now - q["ts"] / 1e9)
            )
            if q.get("open"):
                opened = Decimal(q["open"])
                row["change"] = (mid - opened).quantize(inst.tick_size)
                row["change_pct"] = ((mid - opened) / opened * 100).quantize(Decimal("0.01")) if opened else None
            src = sources.get(row["source"], {})
            if row["age"] > STALE_AFTER_SECONDS:
                row["status"] = "stale"
            elif any(i.get("instrument_id") == inst.instrument_id for i in src.get("issues", [])):
                row["status"] = "issues"
            else:
                row["status"] = "live"
        rows.append(row)
    key = sort.lstrip("-") if sort in SORTS else "symbol"
    reverse = sort.startswith("-")
    rows.sort(key=lambda r: (r[key] is None, r[key] if r[key] is not None else 0), reverse=reverse)
    if reverse:  # keep rows without data last either way
        rows.sort(key=lambda r: r[key] is None)
    return rows


def instrument_quality(instrument_id: str) -> dict:
    feed = _hash(INSTRUMENT_FEEDS_KEY).get(instrument_id, {})
    alerts = Alert.objects.filter(category=Alert.Category.DATA).exclude(status=Alert.Status.RESOLVED)[:20]
    return {"feed": feed, "alerts": list(alerts)}


def recent_ticks(instrument_id: str, limit: int = 2000) -> list[tuple[int, str, str]]:
    try:
        raw = redis_client().lrange(TICKS_KEY.format(instrument_id=instrument_id), -limit, -1)
    except redis.RedisError:
        return []
    out = []
    for item in raw:
        ts, bid, ask = item.decode().split()
        out.append((int(ts), bid, ask))
    return out


def candles_from_ticks(ticks: list[tuple[int, str, str]], seconds: int) -> list[dict]:
    """OHLC of the mid per ``seconds`` bucket (time in epoch seconds, prices as strings)."""
    candles: list[dict] = []
    for ts, bid, ask in ticks:
        mid = (Decimal(bid) + Decimal(ask)) / 2
        bucket = ts // 1_000_000_000 // seconds * seconds
        if candles and candles[-1]["time"] == bucket:
            c = candles[-1]
            c["high"], c["low"], c["close"] = max(c["high"], mid), min(c["low"], mid), mid
        elif not candles or bucket > candles[-1]["time"]:
            candles.append({"time": bucket, "open": mid, "high": mid, "low": mid, "close": mid})
    return [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in c.items()} for c in candles]


def catalog_candles(instrument_id: str, limit: int = 500) -> list[dict]:
    """History bars from the catalog, if any (any bar type of the instrument; the first found)."""
    from trading.catalog.store import catalog_contents, query_range

    try:
        entries = [
            e for e in catalog_contents() if e["kind"] == "bars" and e["identifier"].startswith(instrument_id + "-")
        ]
        if not entries:
            return []
        bars = query_range(kind="bars", identifier=entries[0]["identifier"])[-limit:]
    except Exception:
        return []
    return [
        {
            "time": b.ts_event // 1_000_000_000,
            "open": str(b.open),
            "high": str(b.high),
            "low": str(b.low),
            "close": str(b.close),
        }
        for b in bars
    ]
