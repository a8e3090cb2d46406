"""Per-annotator next-item queues: the Redis scripts that change one annotator's queue
atomically, and what they answer. Layout: shared.contracts.read_model.ReadModel. Pure text and data; the
repository runs the scripts.

Every script takes the same keys (`annotator_keys`) and first arguments (due member,
now ms, lease time-to-live ms, "1" in a pulling task), then its own. Each ends by storing the
annotator's `next` item (services.workflow.rules.next_after), so the gateway answers "what
comes next" with a single read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.contracts.read_model import ReadModel

HISTORY_MAX = 1000
CLOSING_GRACE_MS = 60_000  # an auto completion whose status never landed is dropped after this
FACT_GUARD_MS = 2_000  # status facts closer than this to the item's last are checked (STATUS)


def annotator_keys(rm: ReadModel, task_id: str, email: str) -> list[str]:
    part = lambda name: rm.annotator(task_id, email, name)
    return [part("state"), part("open"), part("order"), part("history"), part("leases"),
            part("opened"), part("closing"), rm.task(task_id, "returning"), rm.lease_due()]


def due_member(task_id: str, email: str) -> str:
    return f"{task_id}|{email}"


PRELUDE = """
local state, open, order, history, leases, opened, closing, returning, due =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local member, now, ttl, pulling = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'

local function next_after(cur)
  if cur ~= '' then
    local pos = redis.call('HGET', order, cur)
    if pos then
      local after = redis.call('ZRANGEBYSCORE', open, '(' .. pos, '+inf', 'LIMIT', 0, 1)
      if after[1] then return after[1] end
    end
  end
  for _, item in ipairs(redis.call('ZRANGE', open, 0, 1)) do
    if item ~= cur then return item end
  end
  return ''
end

local function refresh()
  local cur = redis.call('HGET', state, 'current') or ''
  local nxt = next_after(cur)
  redis.call('HSET', state, 'next', nxt)
  return {cur, nxt}
end

local function earliest()
  local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
  if first[2] then
    redis.call('ZADD', due, first[2], member)
    return tonumber(first[2])
  end
  redis.call('ZREM', due, member)
  return 0
end

local function renew_all(expires)
  local items = redis.call('ZRANGE', leases, 0, -1)
  for _, item in ipairs(items) do redis.call('ZADD', leases, expires, item) end
  earliest()
  return items
end

local function renewal_due()
  local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
  return first[2] and tonumber(first[2]) < now + ttl / 2
end
"""

# KEYS[10] the task's meta, KEYS[11] the annotator's settings. ARGV[5] the item in hand ('' =
# the one the queue holds), ARGV[6] how many open items ahead of it to list. Reads only.
LOOK = PRELUDE + """
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
"""

# ARGV[5] item left ('' = the one in hand), ARGV[6] '1' to complete it, ARGV[7] history length,
# ARGV[8] the item to go to if still open ('' = the next after the one left), ARGV[9] when the
# move was asked for (ms): a move older than the last one applied is not applied.
MOVE = PRELUDE + """
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
"""

STEP_BACK = PRELUDE + """
local back = tonumber(redis.call('HGET', state, 'back') or '0')
local idx = redis.call('LLEN', history) - 2 - back
if idx < 0 then return {''} end
local item = redis.call('LINDEX', history, idx)
redis.call('HSET', state, 'current', item, 'back', back + 1)
if redis.call('ZSCORE', leases, item) then redis.call('SADD', opened, item) end
return {item, refresh()[2], redis.call('ZCARD', open)}
"""

# KEYS[10]: candidate open items (work order scores) read from the task service's data.
# ARGV[5] the assignment's id, ARGV[6] the task's allocation version the items were read at
# and ARGV[7] when that reading began (ms) ('' and '': no check). Two replicas may seed one
# queue at once from readings of different ages: one older than the queue's last seeding (a
# lower version) is dropped, and an item whose status fact was applied after the reading
# began (or about then) keeps what that fact said.
SYNC = PRELUDE + """
local fresh, seen, fresh_order = KEYS[10], KEYS[11], KEYS[12]
if ARGV[6] ~= '' and tonumber(ARGV[6]) < tonumber(redis.call('HGET', state, 'version') or '-1') then
  redis.call('UNLINK', fresh, fresh_order)
  local here = refresh()
  return {{}, {}, 0, redis.call('ZCARD', open), here[1], here[2]}
end
if ARGV[6] ~= '' then redis.call('HSET', state, 'version', ARGV[6]) end
redis.call('HSET', state, 'assignment', ARGV[5])
redis.call('UNLINK', order)  -- freed in the background
if redis.call('EXISTS', fresh_order) == 1 then
  redis.call('RENAME', fresh_order, order)
  redis.call('PERSIST', order)
end
if ARGV[7] ~= '' then
  local since = tonumber(ARGV[7]) - """ + str(FACT_GUARD_MS) + """
  local facts = redis.call('HGETALL', seen)
  for i = 1, #facts, 2 do
    local item = facts[i]
    if tonumber(facts[i + 1]) >= since then
      local pos = redis.call('HGET', order, item)
      if pos and redis.call('ZSCORE', open, item) then
        redis.call('ZADD', fresh, pos, item)
      else
        redis.call('ZREM', fresh, item)
      end
    end
  end
end
redis.call('HSET', state, 'synced', now)  -- facts made before this were read: STATUS checks them
redis.call('UNLINK', seen)
redis.call('ZREMRANGEBYSCORE', closing, '-inf', now - """ + str(CLOSING_GRACE_MS) + """)
for _, item in ipairs(redis.call('ZRANGE', closing, 0, -1)) do redis.call('ZREM', fresh, item) end
for _, item in ipairs(redis.call('HKEYS', returning)) do redis.call('ZREM', fresh, item) end
redis.call('UNLINK', open)  -- a big old set is freed in the background, not here
if redis.call('EXISTS', fresh) == 1 then
  redis.call('RENAME', fresh, open)
  redis.call('PERSIST', open)
end
local granted, released, expires = {}, {}, 0
if pulling then
  for _, item in ipairs(redis.call('ZRANGE', leases, 0, -1)) do
    if not redis.call('ZSCORE', open, item) then
      redis.call('ZREM', leases, item)
      redis.call('SREM', opened, item)
      table.insert(released, item)
    end
  end
  expires = now + ttl
  for _, item in ipairs(redis.call('ZRANGE', open, 0, -1)) do
    if not redis.call('ZSCORE', leases, item) then
      redis.call('ZADD', leases, expires, item)
      table.insert(granted, item)
    end
  end
  earliest()
end
local here = refresh()
return {granted, released, expires, redis.call('ZCARD', open), here[1], here[2]}
"""

# ARGV[5], ARGV[6], ARGV[7], ... triples: an item, what it holds ('1' a status, '0' none,
# 'undo' auto complete refused) and when the fact saying so was made (ms; '' when it was read
# from the task service's data just now). One call applies a whole batch of one annotator's
# statuses (a bulk brings thousands: one script call per item cost more than the work did).
#
# A fact is applied as it says only when it is clearly the newest word on its item: made more
# than FACT_GUARD_MS after the last one applied to the item (KEYS[10], item -> ms) and after
# the queue was last seeded from the task service's data. Any other (facts handled out of
# order, redelivered, or racing another writer) comes back with `verify` set, unapplied: the
# caller reads the item's status as stored and applies that ('' time). Reading every
# changed item back, as before, cost the MongoDB-wire server ~0.6 s per 10,000 statuses.
STATUS = PRELUDE + """
local seen = KEYS[10]
local synced = tonumber(redis.call('HGET', state, 'synced') or '0')
local guard = """ + str(FACT_GUARD_MS) + """
local results = {}
for i = 5, #ARGV, 3 do
  local item, has, made = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local changed, released, granted, verify = 0, 0, 0, 0
  local last = tonumber(redis.call('HGET', seen, item) or '0')
  if made == '' then
    if now > last then redis.call('HSET', seen, item, ARGV[2]) end
  elseif tonumber(made) < synced + guard or (last > 0 and tonumber(made) < last + guard) then
    verify, has = 1, 'skip'
  else
    redis.call('HSET', seen, item, made)
  end
  if has == 'undo' and redis.call('ZREM', closing, item) == 0 then has = 'skip' end
  if has == '1' then
    redis.call('ZREM', closing, item)
    changed = redis.call('ZREM', open, item)
    if redis.call('ZREM', leases, item) == 1 then
      redis.call('SREM', opened, item)
      released = 1
    end
  elseif has ~= 'skip' and not redis.call('ZSCORE', closing, item)
      and redis.call('HEXISTS', returning, item) == 0 then
    local pos = redis.call('HGET', order, item)
    if pos then
      changed = redis.call('ZADD', open, 'NX', pos, item)
      if pulling and not redis.call('ZSCORE', leases, item) then
        redis.call('ZADD', leases, now + ttl, item)
        granted = 1
      end
    end
  end
  results[#results + 1] = {changed, released, granted, verify}
end
if pulling then earliest() end
local here = refresh()
return {results, now + ttl, redis.call('ZCARD', open), here[1], here[2]}
"""

# ARGV[5] '1' to renew whatever the leases' age, ARGV[6] the item open on the page,
# ARGV[7] '1' when the annotator is back (a heartbeat), which ends having left.
RENEW = PRELUDE + """
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
"""

# ARGV[5] the annotator's email.
LEAVE = PRELUDE + """
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
"""

# ARGV[5] the annotator's email.
EXPIRE = PRELUDE + """
local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', now)
local was_open = {}
local cur = redis.call('HGET', state, 'current') or ''
for _, item in ipairs(expired) do
  redis.call('ZREM', leases, item)
  redis.call('ZREM', open, item)
  if redis.call('SREM', opened, item) == 1 then table.insert(was_open, item) end
  redis.call('HSET', returning, item, ARGV[5])
  if item == cur then redis.call('HSET', state, 'current', '') end
end
earliest()
local here = refresh()
return {expired, was_open, redis.call('ZCARD', open), here[1], here[2]}
"""

SCRIPTS = {"look": LOOK, "move": MOVE, "step_back": STEP_BACK, "sync": SYNC, "status": STATUS, "renew": RENEW,
           "leave": LEAVE, "expire": EXPIRE}


# --- what the scripts answer -------------------------------------------------------------------


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _opt(value: Any) -> str | None:
    return _s(value) or None if value is not None else None


def _list(value: Any) -> list[str]:
    return [_s(v) for v in value or []]


def _hash(flat: list[Any]) -> dict[str, str]:
    return {_s(k): _s(v) for k, v in zip(flat[::2], flat[1::2], strict=True)}


@dataclass(frozen=True)
class Look:
    """An annotator's queue as one read: the task's meta, their state and settings, the item
    in hand and whether it is open, and the open items ahead of it."""

    meta: dict[str, str]
    state: dict[str, str]
    settings: dict[str, str]
    item: str | None
    item_is_open: bool
    open_items: int
    ahead: list[str]

    @classmethod
    def of(cls, r: list[Any]) -> Look:
        return cls(_hash(r[0]), _hash(r[1]), _hash(r[2]), _opt(r[3]), bool(int(r[4])), int(r[5]),
                   list(dict.fromkeys(_list(r[6]))))


@dataclass(frozen=True)
class Move:
    from_item: str | None
    completed: str | None
    arrived: str | None
    next_item: str | None
    open_items: int
    expires_ms: int
    renewed: list[str]
    stale: bool = False

    @classmethod
    def of(cls, r: list[Any]) -> Move:
        return cls(_opt(r[0]), _opt(r[1]), _opt(r[2]), _opt(r[3]), int(r[4]), int(r[5]), _list(r[6]),
                   bool(int(r[7])))


@dataclass(frozen=True)
class Back:
    item: str | None
    next_item: str | None = None
    open_items: int = 0

    @classmethod
    def of(cls, r: list[Any]) -> Back:
        return cls(_opt(r[0])) if len(r) == 1 else cls(_opt(r[0]), _opt(r[1]), int(r[2]))


@dataclass(frozen=True)
class Synced:
    granted: list[str]
    released: list[str]
    expires_ms: int
    open_items: int
    current: str | None
    next_item: str | None

    @classmethod
    def of(cls, r: list[Any]) -> Synced:
        return cls(_list(r[0]), _list(r[1]), int(r[2]), int(r[3]), _opt(r[4]), _opt(r[5]))


@dataclass(frozen=True)
class StatusApplied:
    changed: bool
    released: bool
    granted: bool
    expires_ms: int
    open_items: int
    current: str | None
    next_item: str | None
    verify: bool = False  # not applied: read the item's status and apply that

    @classmethod
    def each(cls, r: list[Any]) -> list[StatusApplied]:
        """Per item of a STATUS call, in order; the queue as the batch left it."""
        expires, open_items, current, next_item = int(r[1]), int(r[2]), _opt(r[3]), _opt(r[4])
        return [cls(bool(int(c)), bool(int(rel)), bool(int(g)), expires, open_items, current, next_item,
                    bool(int(v))) for c, rel, g, v in r[0]]


@dataclass(frozen=True)
class Renewal:
    expires_ms: int
    items: list[str]

    @classmethod
    def of(cls, r: list[Any]) -> Renewal:
        return cls(int(r[0]), _list(r[1]))


@dataclass(frozen=True)
class Leave:
    returning: list[str]
    held: list[str]
    held_until_ms: int
    open_items: int

    @classmethod
    def of(cls, r: list[Any]) -> Leave:
        return cls(_list(r[0]), _list(r[1]), int(r[2]), int(r[3]))


@dataclass(frozen=True)
class Expiry:
    expired: list[str]
    opened: list[str]
    open_items: int
    current: str | None
    next_item: str | None

    @classmethod
    def of(cls, r: list[Any]) -> Expiry:
        return cls(_list(r[0]), _list(r[1]), int(r[2]), _opt(r[3]), _opt(r[4]))
