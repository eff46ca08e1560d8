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

# KEYS: counters, settle zset, record key. ARGV: now_ms, order id, payload (JSON, see plan_payload).
# Every counter the items read comes back from one HMGET.
RESERVE_LUA = (
    _PRUNE
    + """
if redis.call('EXISTS', KEYS[3]) == 1 then return {-1} end
local p = cjson.decode(ARGV[3])
local now = tonumber(ARGV[1])
local items, rates, incr = p[2], p[3], p[4]
local names = {}
for _, c in ipairs(items) do
  for _, k in ipairs(c[1]) do names[#names + 1] = k end
end
local vals = {}
if #names > 0 then vals = redis.call('HMGET', KEYS[1], unpack(names)) end
local ok = 1
local out = {}
local j = 0
for i, c in ipairs(items) do
  local cur = 0
  for _ in ipairs(c[1]) do
    j = j + 1
    cur = cur + (tonumber(vals[j]) or 0)
  end
  out[i] = cur
  if cur + tonumber(c[2]) > tonumber(c[3]) then ok = 0 end
end
for _, r in ipairs(rates) do
  redis.call('ZREMRANGEBYSCORE', r[1], '-inf', now - r[2])
  local n = redis.call('ZCARD', r[1])
  out[#out + 1] = n
  if n + 1 > r[3] then ok = 0 end
end
if ok == 1 then
  local rec = {'_total', p[1], '_filled', '0', '_ts', ARGV[1]}
  for i = 1, #incr, 2 do
    redis.call('HINCRBY', KEYS[1], incr[i], incr[i + 1])
    rec[#rec + 1] = incr[i]
    rec[#rec + 1] = incr[i + 1]
  end
  redis.call('HSET', KEYS[3], unpack(rec))
  for _, r in ipairs(rates) do
    redis.call('ZADD', r[1], now, ARGV[2])
    redis.call('PEXPIRE', r[1], r[2] + 1000)
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


_encode = json.JSONEncoder(separators=(",", ":")).encode


def plan_payload(plan) -> str:
    """``[lots, [[keys], amount, headroom]..., [[key, window_ms, limit]...], [counter, increment, ...]]``.

    Amounts travel as strings: Lua numbers are doubles, and HINCRBY needs the exact integer.
    """
    return _encode(
        [
            str(plan.lots),
            [[keys, str(amount), str(headroom)] for _name, keys, amount, headroom, _scale, _code, _rule in plan.items],
            [[key, window_ms, limit] for _name, key, window_ms, limit, _rule in plan.rates],
            [x for counter, amount in plan.increments.items() for x in (counter, str(amount))],
        ]
    )


def reserve(*, client_order_id: str, plan) -> tuple[int, list[int]]:
    """Check and reserve ``plan`` (a ``risk.gate.checks.ReservationPlan``) in one EVALSHA round trip.

    Returns (ok, seen counters: items first, then rates). ok: 1 reserved, 0 refused,
    -1 already reserved under this id.
    """
    out = _scripts.get().reserve(
        keys=[COUNTERS, SETTLE, RECORD_PREFIX + client_order_id],
        args=[int(time.time() * 1000), client_order_id, plan_payload(plan)],
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
