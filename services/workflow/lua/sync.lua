-- Seeding an annotator's queue from the assignment's items (queue.Synced).
-- KEYS[10]: candidate open items (work order scores) read from the task service's data,
-- KEYS[11] the status facts applied per item (hash item -> ms), KEYS[12] the candidate work
-- order (hash item -> position); KEYS[10] and KEYS[12] are renamed into place.
-- ARGV[5] the assignment's id, ARGV[6] the task's allocation version the items were read at
-- and ARGV[7] when that reading began (ms) ('' and '': no check). Two replicas may seed one
-- queue at once from readings of different ages: one older than the queue's last seeding (a
-- lower version) is dropped, and an item whose status fact was applied after the reading
-- began (or about then, FACT_GUARD_MS) keeps what that fact said. Auto completions older
-- than CLOSING_GRACE_MS whose status never landed are dropped.
-- Returns {granted, released, leases' expiry, open count, current, next}.
local fresh, seen, fresh_order = KEYS[10], KEYS[11], KEYS[12]
if ARGV[6] ~= '' and tonumber(ARGV[6]) < tonumber(redis.call('HGET', state, 'version') or '-1') then
  redis.call('UNLINK', fresh, fresh_order)
  local here = refresh()
  return {{}, {}, 0, redis.call('ZCARD', open), here[1], here[2]}
end
if ARGV[6] ~= '' then redis.call('HSET', state, 'version', ARGV[6]) end
redis.call('HSET', state, 'assignment', ARGV[5])
redis.call('UNLINK', order)  -- freed in the background
if redis.call('EXISTS', fresh_order) == 1 then
  redis.call('RENAME', fresh_order, order)
  redis.call('PERSIST', order)
end
if ARGV[7] ~= '' then
  local since = tonumber(ARGV[7]) - FACT_GUARD_MS
  local facts = redis.call('HGETALL', seen)
  for i = 1, #facts, 2 do
    local item = facts[i]
    if tonumber(facts[i + 1]) >= since then
      local pos = redis.call('HGET', order, item)
      if pos and redis.call('ZSCORE', open, item) then
        redis.call('ZADD', fresh, pos, item)
      else
        redis.call('ZREM', fresh, item)
      end
    end
  end
end
redis.call('HSET', state, 'synced', now)  -- facts made before this were read: STATUS checks them
redis.call('UNLINK', seen)
redis.call('ZREMRANGEBYSCORE', closing, '-inf', now - CLOSING_GRACE_MS)
for _, item in ipairs(redis.call('ZRANGE', closing, 0, -1)) do redis.call('ZREM', fresh, item) end
for _, item in ipairs(redis.call('HKEYS', returning)) do redis.call('ZREM', fresh, item) end
redis.call('UNLINK', open)  -- a big old set is freed in the background, not here
if redis.call('EXISTS', fresh) == 1 then
  redis.call('RENAME', fresh, open)
  redis.call('PERSIST', open)
end
local granted, released, expires = {}, {}, 0
if pulling then
  for _, item in ipairs(redis.call('ZRANGE', leases, 0, -1)) do
    if not redis.call('ZSCORE', open, item) then
      redis.call('ZREM', leases, item)
      redis.call('SREM', opened, item)
      table.insert(released, item)
    end
  end
  expires = now + ttl
  for _, item in ipairs(redis.call('ZRANGE', open, 0, -1)) do
    if not redis.call('ZSCORE', leases, item) then
      redis.call('ZADD', leases, expires, item)
      table.insert(granted, item)
    end
  end
  earliest()
end
local here = refresh()
return {granted, released, expires, redis.call('ZCARD', open), here[1], here[2]}
