"""Reliable Redis Streams consumption on FastStream: groups, batches, reclaim, dead letters.

The rules (../shared/reference/stack.md 1.2-1.6, 1.13) in one place, so every service
consumes the same way:
- groups are created at id 0 before anything is published (`ensure_groups`);
- each process has its own consumer name; reads are batched with `max_records` set;
- a batch is acked only after its handler returned, i.e. after its effect is durable
  (NACK_ON_ERROR leaves a failed batch pending), or, for a consumer that opts in
  (`Consumer.acks`), by the handler's outlet in the call that publishes what the batch
  produced, after it (`publish_all(..., ack=)`);
- a reclaimer in the same group takes over entries left pending by a dead or failed
  consumer (`min_idle_time`), and after `max_deliveries` sends them to `<stream>.dlq`
  with the reason; entries that cannot even be parsed go there at once.
Handlers must be idempotent on the command id: delivery is at-least-once.

Request/reply: a command published with FastStream's `reply_to` (a header of the entry)
names the Redis pub/sub channel its outcome is awaited on (`reply_channel`, one per gateway
process). A consumer that answers (`Consumer.replies`) gets each command's address with the
batch, and its runner sends the outcome there (`replier`) once it is durable and published.
A reply is a shortcut, never the record: one sent while nobody listens is lost, and the
stored outcome answers instead.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from faststream import AckPolicy
from faststream.message import AckStatus
from faststream.redis import RedisBroker, StreamSub
from faststream.redis.configs import RedisConnectionState
from faststream.redis.message import DATA_KEY, RedisBatchStreamMessage, bDATA_KEY
from pydantic import ValidationError
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.contracts import streams
from shared.contracts.envelope import utcnow
from shared.platform import observability
from shared.platform.observability import commands as accounted
from shared.platform.observability import tracing
from shared.platform.runner import Reply
from shared.platform.scripts import lua
from shared.platform.settings import Settings

log = logging.getLogger("classifier.messaging")
DLQ_MAXLEN = 100_000
JSON_CONTENT = {"content-type": "application/json"}


def quiet_logger() -> logging.Logger:
    """FastStream logs every message at its log level; keep only warnings and errors."""
    logger = logging.getLogger("classifier.faststream")
    logger.setLevel(logging.WARNING)
    return logger


CONNECT_TIMEOUT_S = 1.0  # a host that drops packets fails like one that refuses


def _retry() -> Retry:
    """Rides through a blip (a pooled connection gone stale when Redis restarted: the next
    try reconnects, stack.md 1.13) but gives up after two short tries when Redis is down,
    so a request answers 503 at once instead of hanging while Redis is away."""
    return Retry(ExponentialBackoff(cap=0.2, base=0.05), 2)


def _connection_options(settings: Settings) -> dict[str, Any]:
    return {"max_connections": settings.redis_max_connections, "retry": _retry(),
            "retry_on_error": [RedisConnectionError, RedisTimeoutError],
            "socket_connect_timeout": CONNECT_TIMEOUT_S}


class _WaitingConnection(RedisConnectionState):
    """FastStream's connection state with a pool that waits (bounded) for a free connection
    when all are busy, where FastStream's own pool fails at once (MaxConnectionsError)."""

    __slots__ = ("wait_s",)

    def __init__(self, options: dict[str, Any], wait_s: float) -> None:
        super().__init__(options)
        self.wait_s = wait_s

    async def connect(self) -> Redis:
        self._client = Redis.from_pool(BlockingConnectionPool(timeout=self.wait_s, **self._options))
        self._connected = True
        return self._client


class _Broker(RedisBroker):
    def __init__(self, url: str, *, pool_wait_s: float, **kwargs: Any) -> None:
        self._pool_wait_s = pool_wait_s
        super().__init__(url, **kwargs)

    def _make_connection_state(self, connection_options: dict[str, Any],
                               kwargs: dict[str, Any]) -> RedisConnectionState:
        return _WaitingConnection(connection_options, self._pool_wait_s)


def make_broker(settings: Settings, **kwargs: Any) -> RedisBroker:
    """A broker whose publishes survive a Redis restart (stack.md 1.13), fail fast while
    Redis is down, and wait for a pooled connection (bounded) under load."""
    return _Broker(settings.redis_url, pool_wait_s=settings.redis_pool_wait_s,
                   logger=quiet_logger(), middlewares=observability.instrument(),
                   **_connection_options(settings) | kwargs)


def make_redis(settings: Settings) -> Redis:
    """A client like the broker's: at most REDIS_MAX_CONNECTIONS connections; past them a
    call waits up to REDIS_POOL_WAIT_SECONDS, then raises ConnectionError."""
    return Redis.from_pool(BlockingConnectionPool.from_url(
        settings.redis_url, timeout=settings.redis_pool_wait_s, **_connection_options(settings)))


async def best_effort(what: str, action: Awaitable[Any]) -> None:
    """Start-up work that must not keep a service from starting (readiness reports why)."""
    try:
        await action
    except Exception as exc:  # noqa: BLE001 - any failure is only logged here
        log.warning("%s failed at start-up: %s", what, exc)


async def ensure_groups(redis: Redis, namespace: str) -> None:
    """Create every consumer group of the topology at id 0 (idempotent)."""
    for name, groups in streams.TOPOLOGY.items():
        for group in groups:
            try:
                await redis.xgroup_create(
                    streams.stream(name, namespace), group, id="0", mkstream=True
                )
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise


@dataclass(frozen=True)
class Consumer:
    """One service's reading of one stream."""

    stream: str
    group: str
    parse: Callable[[Any], Any]
    handle: Callable[[list[Any]], Awaitable[None]]
    title: str
    description: str
    # A cheap look at an entry as sent (JSON bytes): False acknowledges it unread, for
    # streams where most facts are not this reader's business.
    wanted: Callable[[Any], bool] | None = None
    # Entries per read, when not CONSUMER_BATCH_SIZE: readers of facts take bigger batches
    # (a bulk's 10,000 status facts: a fifth of the reads, queue reads and script calls).
    max_records: int | None = None
    # True: `handle(commands, reply_to={command id: channel})`, with the reply address
    # (FastStream's `reply_to` header) of each command that came with one.
    replies: bool = False
    # True: `handle(commands, ..., ack=Ack)`: the handler's outlet may acknowledge the batch
    # in the call that publishes what it produced (`publish_all(..., ack=)`); a batch it did
    # not acknowledge so is acknowledged as any other once `handle` returns.
    acks: bool = False


@dataclass(frozen=True)
class Ack:
    """The acknowledgement of a batch of entries read in a group (`Consumer.acks`), for the
    outlet that publishes what the batch produced to send after it, in the same call
    (docs/fast-paths.md, The ack with the events)."""

    stream: str
    group: str
    ids: tuple[Any, ...]
    message: Any  # FastStream's message of the batch

    def taken(self) -> None:
        """Sent: FastStream does not acknowledge the batch again."""
        self.message.committed = AckStatus.ACKED


def _entry_id(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _payload_text(body: Any) -> str:
    if isinstance(body, (bytes, bytearray)):
        return body.decode(errors="replace")
    try:
        return json.dumps(body, default=str)
    except (TypeError, ValueError):
        return repr(body)


class DeadLetters:
    """Writes refused entries to `<stream>.dlq` (plain fields, readable by any client) and
    acks them in the group, so they leave the pending list for good."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self.redis = redis
        self.namespace = namespace

    async def send(
        self, consumer: Consumer, entries: Sequence[tuple[str, Any, str, int]]
    ) -> None:
        name = streams.stream(consumer.stream, self.namespace)
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry_id, body, reason, deliveries in entries:
                pipe.xadd(
                    name + streams.DLQ_SUFFIX,
                    {
                        "stream": name,
                        "group": consumer.group,
                        "entryId": entry_id,
                        "reason": reason[:2000],
                        "deliveries": str(deliveries),
                        "payload": _payload_text(body)[:100_000],
                        "failedAt": utcnow().isoformat(),
                    },
                    maxlen=DLQ_MAXLEN,
                    approximate=True,
                )
            pipe.xack(name, consumer.group, *[e[0] for e in entries])
            await pipe.execute()
        for entry_id, body, reason, _ in entries:
            log.error("dead-lettered %s %s: %s", name, entry_id, reason)
            accounted.record(name, consumer.group, [decoded_object(body) or {}], "dead_lettered",
                             facts=False, reason=reason)


async def entries_as_sent(raw: Any, original: Any) -> RedisBatchStreamMessage:
    """Batch parser: each entry's JSON body, as bytes, as it was sent.

    FastStream's own batch parser (faststream/redis/parser/parsers.py,
    RedisBatchStreamParser) loads every entry's JSON, dumps the whole batch back into one
    JSON document, and its decoder loads that again: three passes over every message. Here
    each entry is unwrapped from FastStream's message format only; readers decode it once
    (`decoded`), or not at all when it is not theirs. A fast path (docs/fast-paths.md,
    Reading a batch as sent). Acks work as before: the message carries the subscriber's
    consumer and group. Each entry's headers come along (`batch_headers`): its reply
    address and, while tracing, its trace context."""
    parser = original.__self__  # FastStream's parser of this subscriber, bound to its group
    unwrap = parser.config.message_format.parse
    entries = [unwrap(entry.get(bDATA_KEY, entry)) for entry in raw["data"]]
    return RedisBatchStreamMessage(
        raw_message=raw, body=[body for body, _ in entries], headers=JSON_CONTENT,
        batch_headers=[headers for _, headers in entries],
        consumer=parser.consumer, group=parser.group)


async def bodies_as_sent(msg: Any, original: Any) -> Any:
    """Batch decoder paired with `entries_as_sent`: the list of JSON bodies."""
    return msg.body


def batch_reader(name: str, *, group: str | None = None, consumer: str | None = None,
                 max_records: int) -> dict[str, Any]:
    """Subscriber arguments of a batch stream reader whose handler gets each entry's JSON
    bytes (`entries_as_sent`)."""
    return {"stream": StreamSub(name, group=group, consumer=consumer, batch=True,
                                max_records=max_records),
            "parser": entries_as_sent, "decoder": bodies_as_sent}


def decoded(raw: Any) -> Any:
    """An entry's body as sent (JSON bytes) as Python data."""
    return json.loads(raw) if isinstance(raw, (bytes, bytearray, str)) else raw


def decoded_object(raw: Any) -> dict[str, Any] | None:
    """An entry's body as sent, when it is a JSON object (an envelope); None otherwise."""
    try:
        body = decoded(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _current(broker: RedisBroker) -> Any:
    """The message being handled, from FastStream's context. Not a handler parameter: a
    `msg: RedisStreamMessage` parameter is a fast_depends custom field, solved in a worker
    thread under an anyio task group for every message (docs/fast-paths.md, The message
    from FastStream's context)."""
    return broker.context.get_local("message")


def attach(
    broker: RedisBroker,
    consumer: Consumer,
    *,
    settings: Settings,
    service: str,
    dead_letters: DeadLetters,
) -> None:
    """Register the live (batch) subscriber and the reclaimer for `consumer`."""
    name = streams.stream(consumer.stream, settings.namespace)
    me = settings.consumer(service)
    facts = consumer.stream in streams.EVENT_STREAMS  # counted, not logged one by one
    _read_groups.setdefault(broker, (dead_letters.redis, set()))[1].add((name, consumer.group))

    @broker.subscriber(
        **batch_reader(name, group=consumer.group, consumer=me,
                       max_records=consumer.max_records or settings.batch_size),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=f"{name}:{consumer.group}",
        description=consumer.description,
    )
    async def live(bodies: list[Any]) -> None:
        msg = _current(broker)
        ids = [_entry_id(i) for i in msg.raw_message["message_ids"]]
        headers = msg.batch_headers or [{}] * len(ids)
        good, traced, poison, reply_to = [], [], [], {}
        for entry_id, body, entry_headers in zip(ids, bodies, headers, strict=False):
            if consumer.wanted is not None and not consumer.wanted(body):
                continue
            try:
                parsed = consumer.parse(decoded(body))
            except (ValidationError, ValueError, TypeError) as exc:
                poison.append((entry_id, body, f"unparseable: {exc}", 1))
                continue
            good.append(parsed)
            traced.append(entry_headers)
            if consumer.replies and (to := entry_headers.get("reply_to")):
                reply_to[parsed.id] = to
        if poison:
            await dead_letters.send(consumer, poison)
        if good:
            await accounted.handle(name, consumer.group, good, traced,
                                   _handler(consumer, reply_to, _ack_of(consumer, name, msg)), facts=facts)

    @broker.subscriber(
        stream=StreamSub(
            name, group=consumer.group, consumer=me, min_idle_time=settings.reclaim_idle_ms
        ),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title=f"{name}:{consumer.group}:reclaim",
        description=f"Reclaims entries of {name} left pending by a dead or failed consumer.",
    )
    async def reclaim(body: Any) -> None:
        msg = _current(broker)
        entry_id = _entry_id(msg.raw_message["message_ids"][0])
        deliveries = await msg.get_delivery_count()
        try:
            parsed = consumer.parse(body)
        except (ValidationError, ValueError, TypeError) as exc:
            await dead_letters.send(consumer, [(entry_id, body, f"unparseable: {exc}", deliveries)])
            return
        reply_to = {parsed.id: msg.reply_to} if consumer.replies and msg.reply_to else {}
        try:
            await accounted.handle(name, consumer.group, [parsed], [],
                                   _handler(consumer, reply_to, _ack_of(consumer, name, msg)), facts=facts)
        except Exception as exc:
            if deliveries < settings.max_deliveries:
                raise
            reason = f"failed {deliveries} deliveries; last error {type(exc).__name__}: {exc}"
            await dead_letters.send(consumer, [(entry_id, body, reason, deliveries)])


def _handler(consumer: Consumer, reply_to: Mapping[str, str],
             ack: Ack | None = None) -> Callable[[list[Any]], Awaitable[None]]:
    along: dict[str, Any] = {"reply_to": reply_to} if consumer.replies else {}
    if ack is not None:
        along["ack"] = ack
    return partial(consumer.handle, **along) if along else consumer.handle


def _ack_of(consumer: Consumer, name: str, msg: Any) -> Ack | None:
    if not consumer.acks or msg.group is None:
        return None
    return Ack(name, msg.group, tuple(msg.raw_message.get("message_ids") or ()), msg)


def reply_channel(settings: Settings, service: str) -> str:
    """The pub/sub channel this process hears its replies on (one per process)."""
    prefix = f"{settings.namespace}:" if settings.namespace else ""
    return f"{prefix}reply:{settings.consumer(service)}"


def replier(redis: Redis, broker: RedisBroker) -> Callable[[Sequence[Reply]], Awaitable[None]]:
    """Sends replies, each in the broker's message format (what a FastStream channel
    subscriber parses), all in one round trip."""
    fmt = broker.message_format

    async def reply(replies: Sequence[Reply]) -> None:
        if not replies:
            return
        async with redis.pipeline(transaction=False) as pipe:
            await _queue_replies(pipe, fmt, replies)
            await pipe.execute()
    return reply


async def _queue_replies(pipe: Any, fmt: Any, replies: Sequence[Reply]) -> None:
    """PUBLISH each reply on `pipe`, in the message format `fmt` (what a FastStream channel
    subscriber parses)."""
    for r in replies:
        pipe.publish(r.channel, await _reply_payload(fmt, r))


async def _reply_payload(fmt: Any, r: Reply) -> bytes:
    headers = JSON_CONTENT if r.published else JSON_CONTENT | {"published": "0"}
    return await fmt.encode(message=json.dumps(r.event, default=str).encode(), reply_to=None,
                            correlation_id=r.command_id, headers=headers)


async def read_from_now(broker: RedisBroker, redis: Redis) -> None:
    """Start every group-less stream reader at its stream's last entry as of now. FastStream
    starts such a reader at `$` and sends `$` again with every XREAD until a first entry
    arrives, so an entry added between two reads (a gateway's first outcome) was missed."""
    for subscriber in broker.subscribers:
        stream = getattr(subscriber, "stream_sub", None)
        if stream is None or stream.group or getattr(subscriber, "last_id", None) != "$":
            continue
        try:
            info = await redis.xinfo_stream(stream.name)
        except ResponseError:  # no such stream yet: everything it will hold is new
            subscriber.last_id = "0-0"
            continue
        last = info.get("last-generated-id") or b"0-0"
        subscriber.last_id = last.decode() if isinstance(last, bytes) else str(last)


# The (stream, group) pairs each broker's subscribers read in, with a Redis client to look
# at them: the stream gauges a service's /metrics reports (shared.platform.runtime).
_read_groups: weakref.WeakKeyDictionary[RedisBroker, tuple[Redis, set[tuple[str, str]]]] = \
    weakref.WeakKeyDictionary()


def read_groups(broker: RedisBroker) -> tuple[Redis | None, set[tuple[str, str]]]:
    return _read_groups.get(broker, (None, set()))


def subscribers_running(broker: RedisBroker) -> bool:
    """Readiness: a stopped subscriber does not end the process (stack.md 1.13), nor does a
    subscriber whose reading task ended without being restarted. (A read failing because
    Redis is down does not end it: FastStream logs it and reads again 5 s later.)"""
    return all(_reading(sub) for sub in broker.subscribers)


def _reading(subscriber: Any) -> bool:
    if not getattr(subscriber, "running", True):
        return False
    tasks = getattr(subscriber, "tasks", None)
    return not tasks or any(not task.done() for task in tasks)


def stream_publisher(
    broker: RedisBroker, settings: Settings, name: str, *, schema: Any, description: str,
    writer: str = "",
) -> Any:
    """A documented (AsyncAPI) publisher onto a trimmed stream; `writer` tells apart two
    processes writing the same stream."""
    title = streams.stream(name, settings.namespace)
    return broker.publisher(
        stream=StreamSub(streams.stream(name, settings.namespace), maxlen=settings.stream_maxlen),
        title=f"{title}:{writer}" if writer else title,
        description=description,
        schema=schema,
    )


# Entries per call of lua/xadd_many.lua: a script holds the server while it runs, so a big
# batch goes in several calls (one round trip) rather than one long one.
XADD_MANY_AT_ONCE = 1_000


@dataclass(frozen=True)
class Prepared:
    """Messages encoded ahead of their publishing (`prepare_all`), for `publish_all`."""

    entries: list[bytes]

    @staticmethod
    def joined(batches: Sequence[Any]) -> Prepared | list[Any]:
        """Batches (`Prepared`, or lists of messages) as one, of the same kind."""
        if batches and all(isinstance(b, Prepared) for b in batches):
            return Prepared([e for b in batches for e in b.entries])
        return [m for b in batches for m in (b.entries if isinstance(b, Prepared) else b)]


def _format_of(publisher: Any) -> tuple[Any, Any]:
    return getattr(publisher, "stream", None), getattr(getattr(publisher, "config", None), "message_format", None)


async def prepare_all(publisher: Any, messages: Sequence[Any],
                      reply_to: Mapping[str, str] | None = None) -> Prepared | Sequence[Any]:
    """Encode contract messages as `publisher` would (its FastStream message format, so
    subscribers read them as if `publisher.publish` had sent them), serialised by
    pydantic-core; a publisher that is not a stream publisher gets them as they are.
    `reply_to`: the reply address of messages passed on (by message id)."""
    stream, fmt = _format_of(publisher)
    if stream is None or fmt is None:
        return messages
    reply_to = reply_to or {}
    return Prepared([await fmt.encode(message=m.model_dump_json(by_alias=True, exclude_none=True).encode(),
                                      reply_to=reply_to.get(m.id), correlation_id=m.id,
                                      headers=tracing.headers_for(m.correlation_id, JSON_CONTENT))
                     for m in messages])


async def publish_all(redis: Redis, publisher: Any, messages: Sequence[Any] | Prepared,
                      reply_to: Mapping[str, str] | None = None, replies: Sequence[Reply] = (),
                      ack: Ack | None = None) -> None:
    """Publish contract messages (or ones `prepare_all` encoded) in as few round trips as
    possible: one XADD for one message, one call of `lua/xadd_many.lua` per thousand
    otherwise. A fast path (docs/fast-paths.md, Publishing many events): it skips
    FastStream's per-message publish middleware and redis-py's packing and parsing of each
    XADD of a pipeline, which a bulk's thousands of events feel. `reply_to`: the reply
    address of commands passed on (by message id), which goes on with them. `replies`: the
    runner's replies (shared.platform.runner, `joint`), sent after the messages in the
    same round trip (docs/fast-paths.md, Replies with the events). `ack`: the batch that
    produced them, acknowledged after them in the same call (`lua/xadd_acked.lua`)."""
    prepared = messages if isinstance(messages, Prepared) else await prepare_all(publisher, messages, reply_to)
    if ack is not None and isinstance(prepared, Prepared):
        await _publish_acked(redis, publisher, prepared.entries, replies, ack)
        return
    if not isinstance(prepared, Prepared):  # not a stream publisher: the general path
        async with redis.pipeline(transaction=False) as pipe:
            for message in prepared:
                await publisher.publish(message.wire(), correlation_id=message.id, pipeline=pipe,
                                        reply_to=(reply_to or {}).get(message.id, ""))
            if replies:
                await _queue_replies(pipe, _reply_format(publisher), replies)
            await pipe.execute()
        if ack is not None:  # after the pipeline's success only
            await redis.xack(ack.stream, ack.group, *ack.ids)
            ack.taken()
        return
    entries, stream = prepared.entries, publisher.stream
    if not entries and not replies:
        return
    if len(entries) == 1 and not replies:
        await redis.xadd(stream.name, {DATA_KEY: entries[0]}, maxlen=stream.maxlen)
        return
    async with redis.pipeline(transaction=False) as pipe:  # every call in one round trip
        if len(entries) == 1:
            pipe.xadd(stream.name, {DATA_KEY: entries[0]}, maxlen=stream.maxlen)
        elif entries:
            script = _xadd_many(redis)
            maxlen = "" if stream.maxlen is None else str(stream.maxlen)
            for n in range(0, len(entries), XADD_MANY_AT_ONCE):
                await script(keys=[stream.name], args=[maxlen, DATA_KEY, *entries[n:n + XADD_MANY_AT_ONCE]],
                             client=pipe)
        if replies:  # after the events: a requester answered finds its event on the stream
            await _queue_replies(pipe, _reply_format(publisher), replies)
        await pipe.execute()


async def _publish_acked(redis: Redis, publisher: Any, entries: list[bytes], replies: Sequence[Reply],
                         ack: Ack) -> None:
    """Entries, replies and the batch's ack in one call of `lua/xadd_acked.lua` (which
    stops at a failing call, so the ack goes only after the rest); the entries beyond its
    last thousand go first, in calls of their own."""
    if len(entries) > XADD_MANY_AT_ONCE:
        await publish_all(redis, publisher, Prepared(entries[:-XADD_MANY_AT_ONCE]))
        entries = entries[-XADD_MANY_AT_ONCE:]
    fmt = _reply_format(publisher)
    sent = [x for r in replies for x in (r.channel, await _reply_payload(fmt, r))]
    stream = publisher.stream
    maxlen = "" if stream.maxlen is None else str(stream.maxlen)
    await _script(redis, "xadd_acked")(
        keys=[stream.name, ack.stream],
        args=[maxlen, DATA_KEY, ack.group, len(entries), len(replies), *entries, *sent, *ack.ids])
    ack.taken()


def _reply_format(publisher: Any) -> Any:
    """The message format replies go in: the publisher's broker's (a channel subscriber's)."""
    fmt = _format_of(publisher)[1]
    if fmt is None:
        raise TypeError(f"{publisher!r} has no message format to send replies in")
    return fmt


def _xadd_many(redis: Redis) -> Any:
    """The registered `lua/xadd_many.lua` of this client (EVALSHA, loaded on first use)."""
    return _script(redis, "xadd_many")


def _script(redis: Redis, name: str) -> Any:
    """The registered `lua/<name>.lua` of this client (EVALSHA, loaded on first use)."""
    scripts = _SCRIPTS.setdefault(redis, {})
    script = scripts.get(name)
    if script is None:
        script = scripts[name] = redis.register_script(lua("shared.platform", name))
    return script


_SCRIPTS: weakref.WeakKeyDictionary[Redis, dict[str, Any]] = weakref.WeakKeyDictionary()
