"""The gateway's adapters, built and connected in the app's lifespan (never at import)."""

from __future__ import annotations

from typing import Any

from gateway.access import Access
from gateway.accounts import Accounts
from gateway.audit import AuditLog
from gateway.auth import TokenResolver
from gateway.browse import Browser
from gateway.bus import CommandBus
from gateway.dispatch import Commands
from gateway.export_jobs import resume_export
from gateway.import_jobs import resume_import
from gateway.invalidation import Invalidation
from gateway.jobs import Jobs
from gateway.links import Links
from gateway.moves import Moves
from gateway.oidc import SingleSignOn
from gateway.outcomes import OutcomeHub
from gateway.owners import Owners
from gateway.passwords import SignInThrottle
from gateway.ratelimit import RequestGate
from gateway.repository import Catalog, connect
from gateway.sessions import Sessions
from gateway.task_activity import TaskActivity
from gateway.task_reads import TaskReads
from gateway.workflow_reads import WorkflowReads
from shared.contracts import streams
from shared.contracts.bulk import BulkClassify, UndoBulk
from shared.contracts.commands import ClassifyStreamCommand
from shared.contracts.scene_commands import SceneStreamCommand
from shared.contracts.tasks import SetStatus, TaskCommand
from shared.contracts.workflow import WorkflowCommand
from shared.platform.messaging import (
    batch_reader,
    ensure_groups,
    make_broker,
    make_redis,
    read_from_now,
    reply_channel,
    stream_publisher,
    subscribers_running,
)
from shared.platform.runtime import run_checks
from shared.platform.settings import Settings


class Gateway:
    def __init__(self, settings: Settings) -> None:
        """Declares the broker's publishers and subscriber; connects nothing."""
        s = self.settings = settings
        self.sso = SingleSignOn.configured(s)  # None while OIDC_ISSUER is empty
        self.api = settings.public_url.rstrip("/") + "/api/v1"
        # Replies held for the event reader while this replica keeps a task browser index: a
        # classify or status answered is listed at once (gateway.browse, gateway.outcomes).
        self.hub = OutcomeHub(settle=lambda: bool(self.browse.entries))
        self.broker = make_broker(s)
        self.reply_to = reply_channel(s, "gateway")
        self._hear_replies()
        self.owners = Owners(self.broker, s, self.reply_to)  # the task and annotation services, asked for their data
        self.publishers: dict[str, Any] = {
            streams.CLASSIFY: stream_publisher(
                self.broker, s, streams.CLASSIFY, schema=ClassifyStreamCommand,
                description="Classify, UpdateAnnotation, DeleteAnnotation; read by the annotation service.",
            ),
        }
        self.publishers[streams.TASKS] = stream_publisher(
            self.broker, s, streams.TASKS, schema=TaskCommand,
            description="Task management and task-context commands; read by the task service.")
        self.publishers[streams.SCENE] = stream_publisher(
            self.broker, s, streams.SCENE, schema=SceneStreamCommand,
            description="Video scene commands; read by the annotation service.")
        self.publishers[streams.STATUS] = stream_publisher(
            self.broker, s, streams.STATUS, schema=SetStatus,
            description="Item status commands; read by the task service.")
        self.publishers[streams.WORKFLOW] = stream_publisher(
            self.broker, s, streams.WORKFLOW, schema=WorkflowCommand,
            description="Annotators' workflow commands; read by the workflow service.")
        self.workflow = WorkflowReads(self.broker, s, self.hub)
        self.activity = TaskActivity()  # managers' task-wide live feed
        self.publishers[streams.BULK_CLASSIFY] = stream_publisher(
            self.broker, s, streams.BULK_CLASSIFY, schema=BulkClassify | UndoBulk,
            description="BulkClassify and UndoBulk; read by the task service.")
        for events in (streams.ANNOTATION_EVENTS, streams.TASK_EVENTS):
            self._listen(streams.stream(events, s.namespace))

    def _hear_replies(self) -> None:
        @self.broker.subscriber(
            channel=self.reply_to,
            title="reply:gateway",
            description="Each gateway replica's reply channel (pub/sub): the outcome event of each "
            "command it published with this channel as reply_to, sent by the service that answers "
            "it once the outcome is stored; the correlation id names the command.",
        )
        async def on_reply(event: Any) -> None:
            message = self.broker.context.get_local("message")
            if isinstance(event, dict):
                self.hub.reply(message.correlation_id, event, message.headers.get("published") != "0")
            else:  # an owner's answer to a query (BSON, gateway.owners)
                self.owners.answered(message.correlation_id, message.body)

    def _listen(self, name: str) -> None:
        @self.broker.subscriber(
            **batch_reader(name, max_records=500),
            title=f"{name}:gateway",
            description="Every gateway replica reads the events without a group (XREAD from $) for "
            "its read models (the task browser's index, the task activity and workflow feeds), and "
            "for the outcomes of the few commands that are not replied to (gateway.outcomes).",
        )
        async def on_events(bodies: list[Any]) -> None:
            self.browse.deliver(bodies)  # first: a request answered below sees its change listed
            self.hub.deliver(bodies)
            self.workflow.deliver_task_facts(bodies)
            self.activity.deliver(bodies)

    async def start(self) -> None:
        s = self.settings
        self.redis = make_redis(s)
        self.workflow.connect(self.redis)
        self.catalog: Catalog = connect(s.mongodb_url, s.mongodb_db,
                                        selection_timeout_ms=s.mongodb_selection_timeout_ms)
        self.tokens = TokenResolver(self.catalog)
        self.access = Access(self.catalog)
        self.gate = RequestGate(self.redis, s.namespace, s.rate_limit_per_minute)
        self.sessions = Sessions(self.redis, s)
        self.links = Links(self.catalog.db, s.public_url)
        self.accounts = Accounts(self.catalog.db, self.links, s)
        self.throttle = SignInThrottle(self.redis, s)
        self.invalidation = Invalidation(self.redis, s.namespace, self.access)
        self.audit = AuditLog(self.catalog)
        self.owners.connect(self.redis)
        self.catalog.annotations = self.owners.annotation
        self.tasks = TaskReads(self.owners.task)
        self.browse = Browser(self.catalog.db, self.owners, max_age_s=s.browse_max_age_s)
        self.bus = CommandBus(
            self.redis, self.catalog, self.hub, self.publishers, s.namespace, s.outcome_wait_s,
            reply_to=self.reply_to)
        self.commands = Commands(self.bus, self.api)
        self.moves = Moves(self.workflow, self.bus, self.access, self.api,
                           self.publishers[streams.WORKFLOW])
        await ensure_groups(self.redis, s.namespace)
        await self.sessions.start()
        await self.catalog.create_indexes()
        await self.links.create_indexes()
        await read_from_now(self.broker, self.redis)  # no event missed before the first
        await self.broker.start()  # the reply channel is subscribed before any command goes out
        await self.invalidation.start()
        await self.audit.start()
        self.jobs = Jobs(self, s.job_lease_s)  # imports and exports, taken over if a gateway dies
        self.jobs.kind("imports", resume_import)
        self.jobs.kind("exports", resume_export)
        await self.jobs.start()

    async def stop(self) -> None:
        await self.jobs.stop()  # first: its jobs are let go while MongoDB is still there
        await self.audit.stop()  # before the MongoDB client closes: no entry is lost
        await self.invalidation.stop()
        await self.broker.stop()
        await self.redis.aclose()
        self.catalog.client.close()

    async def readiness(self) -> dict[str, bool]:
        """Each dependency's check, all at once and each bounded (shared.platform.runtime)."""
        async def subscribers() -> bool:
            return subscribers_running(self.broker)

        return await run_checks(
            {"redis": self.redis.ping, "mongodb": self.catalog.ping, "subscribers": subscribers})
