-- Keeping the workflow's copy of a task's facts (RedisQueues.keep_task_facts).
-- KEYS[1] the copy: hash version, meta (the task's settings, JSON), assignments (JSON).
-- ARGV[1] the allocation version the facts date from ('' when they carry settings only),
-- ARGV[2] the settings, ARGV[3] the working assignments.
-- A copy older than the one held is ignored (facts handled out of order, or redelivered);
-- settings alone change a copy held and never start one. Returns 1 when kept, else 0.
local held = redis.call('HGET', KEYS[1], 'version')
if ARGV[1] == '' then
  if not held then return 0 end
  redis.call('HSET', KEYS[1], 'meta', ARGV[2])
  return 1
end
if held and tonumber(held) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'meta', ARGV[2], 'assignments', ARGV[3])
return 1
