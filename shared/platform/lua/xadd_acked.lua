-- Publishes what a batch of commands produced and acknowledges the batch, in one call
-- (shared.platform.messaging.publish_all with an `ack`): the entries added to one stream,
-- then the replies published, then the batch's entries acknowledged in its group.
-- KEYS[1] the stream written; KEYS[2] the stream the batch was read from.
-- ARGV[1] MAXLEN ('' for none, else trimmed approximately), ARGV[2] the field name
-- (`__data__`), ARGV[3] the group, ARGV[4] how many entries (n), ARGV[5] how many replies
-- (m); then the n entries' values, the m replies as (channel, message) pairs, and the ids
-- of the entries to acknowledge.
-- A call that fails stops the script: nothing after it runs, so a batch is never
-- acknowledged unless what it produced is on its stream.
-- Returns how many entries were added.
local n, m = tonumber(ARGV[4]), tonumber(ARGV[5])
local i = 6
for _ = 1, n do
  if ARGV[1] == '' then
    redis.call('XADD', KEYS[1], '*', ARGV[2], ARGV[i])
  else
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', ARGV[2], ARGV[i])
  end
  i = i + 1
end
for _ = 1, m do
  redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
  i = i + 2
end
while i <= #ARGV do
  local last = math.min(i + 999, #ARGV)
  redis.call('XACK', KEYS[2], ARGV[3], unpack(ARGV, i, last))
  i = last + 1
end
return n
