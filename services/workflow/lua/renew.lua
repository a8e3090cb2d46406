-- Renewing an annotator's leases (queue.Renewal).
-- ARGV[5] '1' to renew whatever the leases' age, ARGV[6] the item open on the page,
-- ARGV[7] '1' when the annotator is back (a heartbeat), which ends having left.
-- Returns {new expiry (0: nothing renewed), the renewed items}.
if ARGV[7] == '1' then
  redis.call('HSET', state, 'left', '0')
elseif redis.call('HGET', state, 'left') == '1' then
  return {0, {}}
end
local item = ARGV[6]
if item ~= '' and redis.call('ZSCORE', leases, item) then redis.call('SADD', opened, item) end
if redis.call('ZCARD', leases) == 0 or (ARGV[5] ~= '1' and not renewal_due()) then return {0, {}} end
local expires = now + ttl
return {expires, renew_all(expires)}
