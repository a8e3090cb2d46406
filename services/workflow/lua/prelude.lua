-- Shared head of every per-annotator queue script (services.workflow.queue.scripts puts it
-- before each, after a line that defines FACT_GUARD_MS and CLOSING_GRACE_MS from the module's
-- constants of those names).
-- KEYS (services.workflow.queue.annotator_keys): the annotator's state hash, open items
-- (sorted set, work order scores), work order (hash item -> position), history (list of items
-- moved to), leases (sorted set, expiry ms), opened (set of leased items seen on the page),
-- closing (sorted set of auto completions awaiting their status, ms), the task's returning
-- items (hash item -> email), and the lease due index (sorted set, member -> earliest expiry).
-- ARGV[1] the annotator's member in the due index, ARGV[2] now (ms), ARGV[3] the lease time to
-- live (ms), ARGV[4] '1' in a pulling task; each script's own arguments follow.
local state, open, order, history, leases, opened, closing, returning, due =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local member, now, ttl, pulling = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'

local function next_after(cur)
  if cur ~= '' then
    local pos = redis.call('HGET', order, cur)
    if pos then
      local after = redis.call('ZRANGEBYSCORE', open, '(' .. pos, '+inf', 'LIMIT', 0, 1)
      if after[1] then return after[1] end
    end
  end
  for _, item in ipairs(redis.call('ZRANGE', open, 0, 1)) do
    if item ~= cur then return item end
  end
  return ''
end

local function refresh()
  local cur = redis.call('HGET', state, 'current') or ''
  local nxt = next_after(cur)
  redis.call('HSET', state, 'next', nxt)
  return {cur, nxt}
end

local function earliest()
  local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
  if first[2] then
    redis.call('ZADD', due, first[2], member)
    return tonumber(first[2])
  end
  redis.call('ZREM', due, member)
  return 0
end

local function renew_all(expires)
  local items = redis.call('ZRANGE', leases, 0, -1)
  for _, item in ipairs(items) do redis.call('ZADD', leases, expires, item) end
  earliest()
  return items
end

local function renewal_due()
  local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
  return first[2] and tonumber(first[2]) < now + ttl / 2
end
