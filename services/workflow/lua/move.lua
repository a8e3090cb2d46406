-- Moving on from an item (queue.Move): completes it if asked, goes to the next open item (or
-- the one asked for), records the history and, in a pulling task, renews the leases when due.
-- ARGV[5] item left ('' = the one in hand), ARGV[6] '1' to complete it, ARGV[7] history length,
-- ARGV[8] the item to go to if still open ('' = the next after the one left), ARGV[9] when the
-- move was asked for (ms): a move older than the last one applied is not applied (stale = 1).
-- Returns {from, completed, arrived, next, open count, leases' expiry (0: not renewed),
-- renewed items, stale}.
local from = ARGV[5]
if from == '' then from = redis.call('HGET', state, 'current') or '' end
if tonumber(ARGV[9]) < tonumber(redis.call('HGET', state, 'movedAt') or '0') then
  local here = refresh()
  return {from, '', here[1], here[2], redis.call('ZCARD', open), 0, {}, 1}
end
local completed = ''
if ARGV[6] == '1' and from ~= '' and redis.call('ZREM', open, from) == 1 then
  redis.call('ZADD', closing, now, from)
  redis.call('ZREM', leases, from)
  redis.call('SREM', opened, from)
  completed = from
end
local arrived, to = '', ARGV[8]
if to ~= '' and to ~= from and redis.call('ZSCORE', open, to) then arrived = to else arrived = next_after(from) end
local cur = arrived
if cur == '' and from ~= '' and redis.call('ZSCORE', open, from) then cur = from end
redis.call('HSET', state, 'current', cur, 'back', cur == '' and -1 or 0, 'left', '0', 'movedAt', ARGV[9])
if arrived ~= '' then
  if redis.call('LINDEX', history, -1) ~= arrived then
    redis.call('RPUSH', history, arrived)
    redis.call('LTRIM', history, -tonumber(ARGV[7]), -1)
  end
  if redis.call('ZSCORE', leases, arrived) then redis.call('SADD', opened, arrived) end
end
local now_next = refresh()[2]
local renewed, expires = {}, 0
if pulling then
  if renewal_due() then
    expires = now + ttl
    renewed = renew_all(expires)
  else
    earliest()
  end
end
return {from, completed, arrived, now_next, redis.call('ZCARD', open), expires, renewed, 0}
