"""The platform with the workflow service and the gateway's workflow endpoints.

Until the gateway wires the workflow pieces itself (gateway/app.py routes, gateway/roles.py
rules, gateway/container.py publisher and reads), this fixture adds whatever is missing to the
app it builds, so the workflow's e2e tests run either way. Once wired, it adds nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from gateway.app import create_app
from gateway.controllers.workflow import WorkflowController
from gateway.roles import RULES, read, write
from gateway.workflow_reads import WorkflowReads
from services.annotation.bootstrap import build as build_annotation
from services.task.bootstrap import build as build_task
from services.workflow.bootstrap import LeaseSettings
from services.workflow.bootstrap import build as build_workflow
from shared.contracts import streams
from shared.contracts.workflow import WorkflowCommand
from shared.platform.messaging import stream_publisher
from shared.platform.settings import Settings
from tests.platform import Platform
from tests.slow_path import transport_for

# The lines gateway/roles.py needs (the same the report asks the lead to add).
WORKFLOW_RULES = {
    "next_item": read("annotator"),
    "move_on": write("annotator"),
    "previous_item": write("annotator"),
    "workflow_settings": read("annotator"),
    "change_workflow_settings": write("annotator"),
    "queue_state": read("annotator"),
    "heartbeat": write("annotator"),
    "leave_task": write("annotator"),
    "workflow_feed": read("annotator"),
}


def wire_missing(app: Any, settings: Settings, patch: Any) -> bool:
    """Add the workflow pieces the app lacks; True when the Redis reads need connecting."""
    gw = app.state.gw
    if not any("/next-item" in route.path for route in app.routes):
        for name, rule in WORKFLOW_RULES.items():
            if name not in RULES:
                patch.setitem(RULES, name, rule)
        app.register(WorkflowController)
    if streams.WORKFLOW not in gw.publishers:
        gw.publishers[streams.WORKFLOW] = stream_publisher(
            gw.broker, settings, streams.WORKFLOW, schema=WorkflowCommand,
            description="Annotators' workflow commands; read by the workflow service.")
    if getattr(gw, "workflow", None) is None:
        gw.workflow = WorkflowReads(gw.broker, settings, gw.hub)
        return True
    return False


@contextlib.asynccontextmanager
async def workflow_platform(settings: Settings, patch: Any, *, lease_ttl_s: float = 600.0) -> AsyncIterator[Platform]:
    app = create_app(settings)
    connect = wire_missing(app, settings, patch)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(build_annotation(settings).app)
        await stack.enter_async_context(build_task(settings).app)
        leases = LeaseSettings(WORKFLOW_LEASE_TTL_SECONDS=lease_ttl_s, WORKFLOW_JANITOR_SECONDS=0.05)
        await stack.enter_async_context(build_workflow(settings, leases).app)
        gateway = app.state.gw
        await gateway.start()
        stack.push_async_callback(gateway.stop)
        if connect:
            gateway.workflow.connect(gateway.redis)
        client = await stack.enter_async_context(httpx.AsyncClient(
            transport=transport_for(app, settings.outcome_wait_s), base_url="http://testserver", timeout=30))
        platform = Platform(client, settings, gateway, gateway.catalog)
        platform.token = await platform.new_user("owner@example.com")
        await platform.seed()
        yield platform
