-- An annotator's queue as one read (queue.Look). Reads only.
-- KEYS[10] the task's meta, KEYS[11] the annotator's settings. ARGV[5] the item in hand ('' =
-- the one the queue holds), ARGV[6] how many open items ahead of it to list.
-- Returns {meta, state, settings (flat hashes), the item, 1 if it is open, open count, ahead}.
local from = ARGV[5]
if from == '' then from = redis.call('HGET', state, 'current') or '' end
local from_open = 0
if from ~= '' and redis.call('ZSCORE', open, from) then from_open = 1 end
local n, ahead = tonumber(ARGV[6]), {}
if from ~= '' then
  local pos = redis.call('HGET', order, from)
  if pos then ahead = redis.call('ZRANGEBYSCORE', open, '(' .. pos, '+inf', 'LIMIT', 0, n) end
end
for _, item in ipairs(redis.call('ZRANGE', open, 0, n)) do
  if item ~= from then table.insert(ahead, item) end
end
return {redis.call('HGETALL', KEYS[10]), redis.call('HGETALL', state), redis.call('HGETALL', KEYS[11]),
        from, from_open, redis.call('ZCARD', open), ahead}
