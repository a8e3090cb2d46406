-- A request's admission (gateway.ratelimit.RequestGate.admit), in one command: is the token
-- revoked, and how many requests has it made in this window?
-- KEYS[1] the token's revocation marker, KEYS[2] the token's counter for this window.
-- ARGV[1] the limit per minute ('0': no limit, the counter is left alone), ARGV[2] the
-- counter's time to live in seconds (set when the window's first request creates it).
-- Returns {1 if revoked else 0, the window's count including this request (0: no limit)}.
local revoked = redis.call('EXISTS', KEYS[1])
if ARGV[1] == '0' then return {revoked, 0} end
local count = redis.call('INCR', KEYS[2])
if count == 1 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
return {revoked, count}
