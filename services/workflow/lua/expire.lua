-- Ending an annotator's expired leases (queue.Expiry): the items go back to the task.
-- ARGV[5] the annotator's email.
-- Returns {expired items, those of them the annotator had opened, open count, current, next}.
local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now)
local was_open = {}
local cur = redis.call('HGET', state, 'current') or ''
for _, item in ipairs(expired) do
  redis.call('ZREM', leases, item)
  redis.call('ZREM', open, item)
  if redis.call('SREM', opened, item) == 1 then table.insert(was_open, item) end
  redis.call('HSET', returning, item, ARGV[5])
  if item == cur then redis.call('HSET', state, 'current', '') end
end
earliest()
local here = refresh()
return {expired, was_open, redis.call('ZCARD', open), here[1], here[2]}
