"""Latest quotes written where the node writes them (Redis ``ni:quotes``), for valuation tests."""

from __future__ import annotations

import json
import time


def quotes_set(**quotes: tuple[str, str]) -> None:
    """quotes_set(EUR_USD=("1.0850", "1.0852"), AAPL=("190.00", "190.20")) — '_' stands for '/'."""
    from monitoring.redis_client import redis_client
    from trading.market_data.quotes import QUOTES_KEY

    mapping = {}
    for name, (bid, ask) in quotes.items():
        symbol = name.replace("_", "/") if len(name) == 7 and name[3] == "_" else name
        mapping[f"{symbol}.SIM"] = json.dumps(
            {"bid": bid, "ask": ask, "last": None, "ts": time.time_ns(), "source": "SIM"}
        )
    redis_client().hset(QUOTES_KEY, mapping=mapping)


def quotes_clear(*names: str) -> None:
    from monitoring.redis_client import redis_client
    from trading.market_data.quotes import QUOTES_KEY

    redis_client().hdel(QUOTES_KEY, *[f"{n.replace('_', '/') if len(n) == 7 else n}.SIM" for n in names])
