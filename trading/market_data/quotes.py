"""Latest quotes in Redis: written by the node, read by pages, the gate and P&L marks.

Hash ``ni:quotes`` maps instrument id -> JSON
``{"bid": "1.08501", "ask": "1.08503", "last": "1.08502", "ts": <epoch ns>, "source": "SIM"}``
(prices as strings: Decimals end to end). Hash ``ni:feeds`` maps source ->
JSON ``{"ts": <epoch ns of last update>, "rate": <updates/s>, "issues": [...]}``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from decimal import Decimal

from monitoring.redis_client import redis_client

QUOTES_KEY = "ni:quotes"
FEEDS_KEY = "ni:feeds"
STALE_AFTER_SECONDS = 5.0


@dataclass(frozen=True)
class Quote:
    instrument_id: str
    bid: Decimal
    ask: Decimal
    last: Decimal | None
    ts_ns: int
    source: str

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    @property
    def age(self) -> float:
        return max(0.0, time.time() - self.ts_ns / 1e9)


def _parse(instrument_id: str, raw: bytes | str) -> Quote:
    d = json.loads(raw)
    return Quote(
        instrument_id=instrument_id,
        bid=Decimal(d["bid"]),
        ask=Decimal(d["ask"]),
        last=Decimal(d["last"]) if d.get("last") else None,
        ts_ns=int(d["ts"]),
        source=d.get("source", ""),
    )


def latest_quotes() -> dict[str, Quote]:
    raw = redis_client().hgetall(QUOTES_KEY)
    return {k.decode(): _parse(k.decode(), v) for k, v in raw.items()}


def latest_quote(instrument_id: str) -> Quote | None:
    raw = redis_client().hget(QUOTES_KEY, instrument_id)
    return _parse(instrument_id, raw) if raw else None


@dataclass(frozen=True)
class FeedStatus:
    state: str  # live | stale | down
    sources: dict[str, dict] = field(default_factory=dict)
    stale_instruments: list[str] = field(default_factory=list)
    instruments: int = 0

    @property
    def healthy(self) -> bool:
        return self.state == "live"


def feed_status(max_age: float = STALE_AFTER_SECONDS) -> FeedStatus:
    """Raises ``redis.RedisError`` when Redis is unreachable."""
    quotes = latest_quotes()
    feeds = {k.decode(): json.loads(v) for k, v in redis_client().hgetall(FEEDS_KEY).items()}
    stale = sorted(i for i, q in quotes.items() if q.age > max_age)
    if not quotes:
        state = "down"
    elif len(stale) == len(quotes):
        state = "down"
    elif stale or any(f.get("issues") for f in feeds.values()):
        state = "stale"
    else:
        state = "live"
    return FeedStatus(state=state, sources=feeds, stale_instruments=stale, instruments=len(quotes))
