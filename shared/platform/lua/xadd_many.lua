-- Adds many entries to one stream in one call (shared.platform.messaging.publish_all).
-- KEYS[1] the stream; ARGV[1] MAXLEN ('' for none, else trimmed approximately), ARGV[2] the
-- field name (`__data__`), ARGV[3..] the entries' values, added in order.
-- Returns how many entries were added: one reply for the batch instead of one per XADD.
local n = 0
for i = 3, #ARGV do
  if ARGV[1] == '' then
    redis.call('XADD', KEYS[1], '*', ARGV[2], ARGV[i])
  else
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', ARGV[2], ARGV[i])
  end
  n = n + 1
end
return n
