"""The eviction order of a semantic cache, kept to live entries only.

A cache bounded by ``max_entries`` needs to know which entry is oldest: ``{name}:order`` is a sorted set of entry
keys by insertion time. Entries also die without the cache's help -- their TTL runs out, a document change
invalidates them -- and a member left behind for each of them would grow the set forever and, worse, count against
``max_entries``: a cache of 10 whose 10 members all expired would evict live entries to make room for nothing.

So the TTL'd entries are also listed by expiry time in ``{name}:expiry``, and every store runs one script
(:func:`queue_order`, inside the store's MULTI) that first forgets the members whose time is up (checking the key
itself: an entry whose TTL was refreshed is rescheduled, not forgotten), then lists the new entry, then evicts the
oldest entries while more than ``max_entries`` remain -- a popped member that is already gone frees no room, so the
bound counts live entries. Invalidation through :mod:`redis_rag_integrations.freshness` unlists what it deletes.
Server time is used throughout, so client clocks do not matter.
"""

from __future__ import annotations

from typing import Any

#: Expired members forgotten per store at most: each store lists one entry, so the sweep outpaces growth.
SWEEP_LIMIT = 256

# KEYS[1] order (entry -> insertion time), KEYS[2] expiry (entry -> expiry time, TTL'd entries only).
# ARGV[1] the entry just stored, ARGV[2] its TTL in seconds ('' = none), ARGV[3] max entries ('' = unbounded),
# ARGV[4] sweep limit. Returns {members listed after the store, entries evicted}.
_ORDER_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))) do
  local pttl = redis.call('PTTL', member)
  if pttl == -2 then
    redis.call('ZREM', KEYS[1], member)
    redis.call('ZREM', KEYS[2], member)
  elseif pttl == -1 then
    redis.call('ZREM', KEYS[2], member)
  else
    redis.call('ZADD', KEYS[2], now + pttl / 1000, member)
  end
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
if ARGV[2] == '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
end
local evicted = 0
if ARGV[3] ~= '' then
  local bound = tonumber(ARGV[3])
  while redis.call('ZCARD', KEYS[1]) > bound do
    local member = redis.call('ZPOPMIN', KEYS[1])[1]
    redis.call('ZREM', KEYS[2], member)
    evicted = evicted + redis.call('DEL', member)
  end
end
return {redis.call('ZCARD', KEYS[1]), evicted}
"""


def queue_order(
    pipe: Any, order_key: str, expiry_key: str, entry_key: str, ttl: int | None, max_entries: int | None
) -> None:
    """Queue the listing of ``entry_key`` (and the sweep and eviction that keep the listing live) on ``pipe``.

    Its reply, the last of the store's MULTI, is ``[members listed, entries evicted]``.
    """
    pipe.execute_command(  # not pipe.eval: a cluster pipeline refuses eval() (a tenant's keys share one slot)
        "EVAL",
        _ORDER_SCRIPT,
        2,
        order_key,
        expiry_key,
        entry_key,
        "" if ttl is None else int(ttl),
        "" if max_entries is None else int(max_entries),
        SWEEP_LIMIT,
    )


def unlist(pipe: Any, order_key: str, expiry_key: str, keys: list[str]) -> None:
    """Queue the removal of ``keys`` from both listings (entries dropped by the cache itself)."""
    pipe.zrem(order_key, *keys)
    pipe.zrem(expiry_key, *keys)
