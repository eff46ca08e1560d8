"""API rate limits counted in Redis, one round trip and O(1) per request.

DRF's cache throttles keep every request's timestamp of the last period in one
pickled list, read and written back whole on every request: at the order rate
(3,000/min) that is 3,000 floats unpickled and pickled per order, and two
requests at once both read the old list, so one of them is not counted.

These throttles use the generic cell rate algorithm instead: Redis keeps, per
client and scope, the one instant at which the client's allowance is whole
again (its "theoretical arrival time"), and a Lua script moves it forward
atomically. ``N/period`` then means what it says: up to N requests at once,
after that one every period/N; a refused client is told how long to wait
(``Retry-After``). The clock is Redis's, so several web processes agree.

If Redis cannot be reached the request is let through and the failure logged:
the throttle protects the service, not the book. Every order still passes the
risk gate, which fails closed on its own.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import redis
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from monitoring.redis_client import redis_client

logger = logging.getLogger(__name__)

# KEYS[1]: the client's cell. ARGV: the interval between requests and the period, both in
# microseconds. Returns 0 (allowed, counted) or the microseconds until the next request is.
GCRA_LUA = """
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000000 + tonumber(now[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local after = tat + interval
if after - period > now then
  return after - period - now
end
redis.call('SET', KEYS[1], string.format('%d', after), 'PX', math.ceil((after - now) / 1000) + 1)
return 0
"""

_scripts: dict[int, object] = {}


def _gcra():
    client = redis_client()
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(GCRA_LUA)
    return script


@lru_cache(maxsize=32)
def parse_rate(rate: str) -> tuple[int, int]:
    """``"3000/min"`` -> (3000, 60): DRF's notation (s, m, h, d and any word starting with them)."""
    count, _, period = rate.partition("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period.strip()[0]]
    return int(count), seconds


class RedisRateThrottle(BaseThrottle):
    """``scope``'s rate from ``DEFAULT_THROTTLE_RATES`` (read per request, so a changed setting
    applies at once), or the class's own ``rate``; counted per user, or per address when anonymous."""

    scope = "user"
    rate: str | None = None

    def __init__(self) -> None:
        self._wait = None

    def get_rate(self) -> str | None:
        return self.rate or api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def client_key(self, request) -> str:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return f"user:{user.pk}"
        return f"ip:{self.get_ident(request)}"

    def allow_request(self, request, view) -> bool:
        rate = self.get_rate()
        if not rate:
            return True
        ident = self.client_key(request)
        count, seconds = parse_rate(rate)
        period_us = seconds * 1_000_000
        try:
            wait_us = int(_gcra()(keys=[f"ni:throttle:{self.scope}:{ident}"], args=[period_us // count, period_us]))
        except redis.RedisError:
            logger.warning("rate limit %s not checked: Redis unavailable", self.scope, exc_info=True)
            return True
        if wait_us:
            self._wait = wait_us / 1_000_000
            return False
        return True

    def wait(self) -> float | None:
        return self._wait


class UserThrottle(RedisRateThrottle):
    """Every API request (settings: API_THROTTLE_RATE)."""

    scope = "user"


class OrderThrottle(RedisRateThrottle):
    """Order placement per client (settings: ORDER_THROTTLE_RATE); the risk gate has its own rate limits.

    Only POST counts as placing an order: reading the order list is an ordinary request."""

    scope = "orders"

    def allow_request(self, request, view) -> bool:
        self.scope = "orders" if request.method == "POST" else "user"  # DRF makes a throttle per request
        return super().allow_request(request, view)
