-- Keeping the workflow's copy of which items of a task hold a status
-- (RedisQueues.keep_statuses).
-- KEYS[1] the copy: hash item -> '<ms>|<1 or 0>|<assignment>'.
-- ARGV quadruples: an item, when the fact was made (ms), '1' when the item holds a status
-- ('0' none), the assignment the fact names.
-- The newest word on an item stays: a fact older than the one held is ignored (handled out
-- of order, or redelivered). Returns how many were kept.
local kept = 0
for i = 1, #ARGV, 4 do
  local held = redis.call('HGET', KEYS[1], ARGV[i])
  if not held or tonumber(string.match(held, '^(%d+)')) <= tonumber(ARGV[i + 1]) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1] .. '|' .. ARGV[i + 2] .. '|' .. ARGV[i + 3])
    kept = kept + 1
  end
end
return kept
