-- Applying status facts to an annotator's queue (queue.StatusApplied.each).
-- KEYS[10] the time of the last fact applied per item (hash item -> ms).
-- ARGV[5], ARGV[6], ARGV[7], ... triples: an item, what it holds ('1' a status, '0' none,
-- 'undo' auto complete refused) and when the fact saying so was made (ms; '' when it was read
-- from the task service's data just now). One call applies a whole batch of one annotator's
-- statuses (a bulk brings thousands).
--
-- A fact is applied as it says only when it is clearly the newest word on its item: made more
-- than FACT_GUARD_MS after the last one applied to the item and after the queue was last
-- seeded from the task service's data. Any other (facts handled out of order, redelivered, or
-- racing another writer) comes back with `verify` set, unapplied: the caller reads the item's
-- status as stored and applies that ('' time), instead of reading every changed item back.
-- Returns {per item {changed, released, granted, verify}, leases' expiry, open count,
-- current, next}.
local seen = KEYS[10]
local synced = tonumber(redis.call('HGET', state, 'synced') or '0')
local guard = FACT_GUARD_MS
local results = {}
for i = 5, #ARGV, 3 do
  local item, has, made = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local changed, released, granted, verify = 0, 0, 0, 0
  local last = tonumber(redis.call('HGET', seen, item) or '0')
  if made == '' then
    if now > last then redis.call('HSET', seen, item, ARGV[2]) end
  elseif tonumber(made) < synced + guard or (last > 0 and tonumber(made) < last + guard) then
    verify, has = 1, 'skip'
  else
    redis.call('HSET', seen, item, made)
  end
  if has == 'undo' and redis.call('ZREM', closing, item) == 0 then has = 'skip' end
  if has == '1' then
    redis.call('ZREM', closing, item)
    changed = redis.call('ZREM', open, item)
    if redis.call('ZREM', leases, item) == 1 then
      redis.call('SREM', opened, item)
      released = 1
    end
  elseif has ~= 'skip' and not redis.call('ZSCORE', closing, item)
      and redis.call('HEXISTS', returning, item) == 0 then
    local pos = redis.call('HGET', order, item)
    if pos then
      changed = redis.call('ZADD', open, 'NX', pos, item)
      if pulling and not redis.call('ZSCORE', leases, item) then
        redis.call('ZADD', leases, now + ttl, item)
        granted = 1
      end
    end
  end
  results[#results + 1] = {changed, released, granted, verify}
end
if pulling then earliest() end
local here = refresh()
return {results, now + ttl, redis.call('ZCARD', open), here[1], here[2]}
