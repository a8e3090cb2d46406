-- An annotator leaving a pulling task (queue.Leave): leased items never opened go back to
-- the task at once (returning), opened ones stay held until their lease ends.
-- ARGV[5] the annotator's email.
-- Returns {items returned, items held, when the first held lease ends (ms), open count}.
local back, held = {}, {}
for _, item in ipairs(redis.call('ZRANGE', leases, 0, -1)) do
  if redis.call('SISMEMBER', opened, item) == 1 then
    table.insert(held, item)
  else
    redis.call('ZREM', leases, item)
    redis.call('ZREM', open, item)
    redis.call('HSET', returning, item, ARGV[5])
    table.insert(back, item)
  end
end
redis.call('HSET', state, 'left', '1', 'current', '', 'back', -1)
local held_until = earliest()
refresh()
return {back, held, held_until, redis.call('ZCARD', open)}
