-- Stepping back through the items worked on (queue.Back): one further back in the history
-- each call. Returns {''} when there is nothing further back, else {item, next, open count}.
local back = tonumber(redis.call('HGET', state, 'back') or '0')
local idx = redis.call('LLEN', history) - 2 - back
if idx < 0 then return {''} end
local item = redis.call('LINDEX', history, idx)
redis.call('HSET', state, 'current', item, 'back', back + 1)
if redis.call('ZSCORE', leases, item) then redis.call('SADD', opened, item) end
return {item, refresh()[2], redis.call('ZCARD', open)}
