"""A circuit breaker whose state lives in Redis, so every web, worker and beat process agrees.

closed → (``failure_threshold`` consecutive failed calls) → open → (after
``reset_timeout`` seconds) → half-open: one probe call at a time is let through;
its success closes the circuit, its failure opens it again for another
``reset_timeout``. A probe that never reports back (its process died) frees the
half-open slot after ``probe_timeout``. Transitions are Lua scripts on Redis's own
clock, so they are atomic across processes and immune to clock skew between hosts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from monitoring.redis_client import redis_client

logger = logging.getLogger(__name__)

BREAKER_KEY = "ni:f8:breaker"
CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

# Returns {allowed 0/1, state after}.
_ALLOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if state == 'closed' then return {1, 'closed'} end
local reset = tonumber(ARGV[1])
local probe_timeout = tonumber(ARGV[2])
if state == 'open' then
  local opened = tonumber(redis.call('HGET', KEYS[1], 'opened_at') or '0')
  if now - opened < reset then return {0, 'open'} end
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'probe_until', tostring(now + probe_timeout))
  return {1, 'half_open'}
end
local probe_until = tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0')
if now >= probe_until then
  redis.call('HSET', KEYS[1], 'probe_until', tostring(now + probe_timeout))
  return {1, 'half_open'}
end
return {0, 'half_open'}
"""

# ARGV[1] = 1 for success, 0 for failure; ARGV[2] = threshold. Returns {state before, state after}.
_RECORD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
if ARGV[1] == '1' then
  redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', '0', 'closed_at', tostring(now))
  return {state, 'closed'}
end
if state == 'half_open' then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', tostring(now))
  return {state, 'open'}
end
if state == 'open' then return {state, 'open'} end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if failures >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', tostring(now))
  return {state, 'open'}
end
return {state, 'closed'}
"""


@dataclass(frozen=True)
class BreakerState:
    state: str  # closed | open | half_open
    failures: int
    retry_in: float | None  # seconds until an open circuit lets a probe through


class CircuitBreaker:
    def __init__(
        self,
        *,
        key: str = BREAKER_KEY,
        failure_threshold: int = 3,
        reset_timeout: float = 30.0,
        probe_timeout: float = 30.0,
    ) -> None:
        if failure_threshold < 1 or reset_timeout <= 0 or probe_timeout <= 0:
            raise ValueError("failure_threshold must be >= 1 and the timeouts positive")
        self.key = key
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.probe_timeout = probe_timeout

    def allow(self) -> bool:
        """May a call go out now? In half-open this claims the single probe slot."""
        allowed, _state = redis_client().eval(_ALLOW, 1, self.key, self.reset_timeout, self.probe_timeout)
        return bool(allowed)

    def record_success(self) -> str:
        return self._record(True)

    def record_failure(self) -> str:
        return self._record(False)

    def _record(self, success: bool) -> str:
        before, after = redis_client().eval(_RECORD, 1, self.key, "1" if success else "0", self.failure_threshold)
        before, after = before.decode(), after.decode()
        if before != after:
            logger.warning("F8 circuit breaker %s -> %s", before, after)
        return after

    def read(self) -> BreakerState:
        client = redis_client()
        raw = {k.decode(): v.decode() for k, v in client.hgetall(self.key).items()}
        state = raw.get("state", CLOSED)
        retry_in = None
        if state == OPEN:
            seconds, micros = client.time()
            now = seconds + micros / 1e6
            retry_in = max(0.0, float(raw.get("opened_at", 0)) + self.reset_timeout - now)
        return BreakerState(state=state, failures=int(raw.get("failures", 0) or 0), retry_in=retry_in)

    def reset(self) -> None:
        redis_client().delete(self.key)
