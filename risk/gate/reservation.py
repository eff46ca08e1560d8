"""The atomic cross-process step: check-and-reserve in one Redis script.

In-process checks judge an order against the snapshot (filled positions, P&L,
prices). What the snapshot cannot see is what other processes approved a moment
ago and has not filled yet. Those amounts live in one Redis hash of integer
counters (lots, cents, counts), keyed by scope (``q:b:<account>:<instrument>``
buys in flight, ``n:a:<account>`` notional in flight, ``oo:a<account>`` open
orders, ...). ``RESERVE`` reads every counter an order's limits depend on, checks
``in flight + order <= headroom`` for each, and only if all pass increments
them and records the reservation under the order's id — all inside one script,
so two processes can never both take the last unit of headroom.

Lifecycle: ``reservation_fill`` (a fill moved part of the order into the book)
keeps the filled part counted for ``SETTLE_MS`` more, until every gate's
snapshot has seen the new position (pub/sub takes milliseconds; the window is
generous) — so the same exposure is briefly counted twice, never zero times.
``reservation_release`` (cancel, reject, expiry, fully done) gives back
what is left. Both are idempotent.
"""

from __future__ import annotations

import json
import time

from monitoring.redis_client import redis_client

COUNTERS = "ni:risk:resv"
SETTLE = "ni:risk:settle"
RECORD_PREFIX = "ni:risk:resv:o:"
SETTLE_MS = 5000

_PRUNE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 500)
for _, m in ipairs(due) do
  local k, a = string.match(m, '^(.-)|(-?%d+)|')
  if k then redis.call('HINCRBY', KEYS[1], k, string.format('%d', -tonumber(a))) end
  redis.call('ZREM', KEYS[2], m)
end
"""

# KEYS: counters, settle zset, record key. ARGV: now_ms, order id, payload JSON.
RESERVE_LUA = (
    _PRUNE
    + """
if redis.call('EXISTS', KEYS[3]) == 1 then return {-1} end
local p = cjson.decode(ARGV[3])
local now = tonumber(ARGV[1])
local ok = 1
local out = {}
for _, c in ipairs(p.items) do
  local cur = 0
  for _, k in ipairs(c.keys) do cur = cur + (tonumber(redis.call('HGET', KEYS[1], k)) or 0) end
  out[#out + 1] = cur
  if cur + tonumber(c.amount) > tonumber(c.headroom) then ok = 0 end
end
for _, r in ipairs(p.rates) do
  redis.call('ZREMRANGEBYSCORE', r.key, '-inf', now - r.window)
  local n = redis.call('ZCARD', r.key)
  out[#out + 1] = n
  if n + 1 > r.limit then ok = 0 end
end
if ok == 1 then
  local rec = {'_total', p.lots, '_filled', '0', '_ts', ARGV[1]}
  for k, a in pairs(p.incr) do
    redis.call('HINCRBY', KEYS[1], k, a)
    rec[#rec + 1] = k
    rec[#rec + 1] = a
  end
  redis.call('HSET', KEYS[3], unpack(rec))
  for _, r in ipairs(p.rates) do
    redis.call('ZADD', r.key, now, ARGV[2])
    redis.call('PEXPIRE', r.key, r.window + 1000)
  end
end
table.insert(out, 1, ok)
return out
"""
)

# KEYS: counters, settle zset, record key. ARGV: now_ms, order id, filled lots, "fill"|"final", settle ms.
RELEASE_LUA = (
    _PRUNE
    + """
local rec = redis.call('HGETALL', KEYS[3])
if #rec == 0 then return 0 end
local h = {}
for i = 1, #rec, 2 do h[rec[i]] = rec[i + 1] end
local total = tonumber(h['_total'])
local prev = tonumber(h['_filled'])
local filled = tonumber(ARGV[3])
if filled > total then filled = total end
if filled < prev then filled = prev end
local final = ARGV[4] == 'final'
local expiry = tonumber(ARGV[1]) + tonumber(ARGV[5])
for k, v in pairs(h) do
  if string.sub(k, 1, 1) ~= '_' then
    local orig = tonumber(v)
    if string.sub(k, 1, 3) == 'oo:' then
      if final then redis.call('HINCRBY', KEYS[1], k, string.format('%d', -orig)) end
    else
      local before = 0
      local after = 0
      if total > 0 then
        before = math.floor(orig * prev / total)
        after = math.floor(orig * filled / total)
      end
      local d = after - before
      if d ~= 0 then
        local member = k .. '|' .. string.format('%d', d) .. '|' .. ARGV[2] .. '|' .. string.format('%d', filled)
        redis.call('ZADD', KEYS[2], expiry, member)
      end
      if final then
        local rem = orig - after
        if rem ~= 0 then redis.call('HINCRBY', KEYS[1], k, string.format('%d', -rem)) end
      end
    end
  end
end
if final then redis.call('DEL', KEYS[3]) else redis.call('HSET', KEYS[3], '_filled', string.format('%d', filled)) end
return 1
"""
)


class _Scripts:
    def __init__(self) -> None:
        self._client = None
        self.reserve = None
        self.release = None

    def get(self):
        client = redis_client()
        if client is not self._client:
            self.reserve = client.register_script(RESERVE_LUA)
            self.release = client.register_script(RELEASE_LUA)
            self._client = client
        return self


_scripts = _Scripts()


def reserve(*, client_order_id: str, lots: int, plan_json: dict) -> tuple[int, list[int]]:
    """Returns (ok, seen counters). ok: 1 reserved, 0 refused, -1 already reserved under this id."""
    payload = json.dumps({**plan_json, "lots": str(lots)}, separators=(",", ":"))
    s = _scripts.get()
    out = s.reserve(
        keys=[COUNTERS, SETTLE, RECORD_PREFIX + client_order_id],
        args=[int(time.time() * 1000), client_order_id, payload],
    )
    return int(out[0]), [int(x) for x in out[1:]]


def _release(client_order_id: str, filled_lots: int, mode: str) -> bool:
    s = _scripts.get()
    out = s.release(
        keys=[COUNTERS, SETTLE, RECORD_PREFIX + client_order_id],
        args=[int(time.time() * 1000), client_order_id, int(filled_lots), mode, SETTLE_MS],
    )
    return bool(out)


def reservation_fill(*, client_order_id: str, filled_lots: int) -> bool:
    """A (partial) fill: ``filled_lots`` is the order's cumulative filled quantity in lots."""
    return _release(client_order_id, filled_lots, "fill")


def reservation_release(*, client_order_id: str, filled_lots: int = 0) -> bool:
    """The order is done (filled, canceled, rejected, expired): give back what is left."""
    return _release(client_order_id, filled_lots, "final")


def reservation_exists(client_order_id: str) -> bool:
    return bool(redis_client().exists(RECORD_PREFIX + client_order_id))


def reservation_counters() -> dict[str, int]:
    return {k.decode(): int(v) for k, v in redis_client().hgetall(COUNTERS).items()}


def reservation_ids() -> list[str]:
    return [k.decode().removeprefix(RECORD_PREFIX) for k in redis_client().scan_iter(RECORD_PREFIX + "*", count=500)]
