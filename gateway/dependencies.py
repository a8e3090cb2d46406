"""What handlers receive by Litestar's dependency injection: a handler names the adapters it
uses as typed parameters (`catalog: Catalog`, `commands: Commands`, `grant: Grant`, ...), and
no handler reaches into the application's state for them.

The adapters are built and connected in the lifespan (gateway.container.Gateway.start), after
the app exists, so each provider reads its adapter from the container when a request comes.
`grant` is what the guard found for this request (gateway.guards): the caller's role, its
project and the documents the path named, read once. Dependencies are not parameters of the
request: the OpenAPI document does not list them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.di import Provide

if TYPE_CHECKING:
    from gateway.container import Gateway

# Names of the container's attributes that handlers receive under the same name.
ADAPTERS = (
    "access",  # gateway.access.Access: resources the caller may see (cached)
    "accounts",  # gateway.accounts.Accounts
    "activity",  # gateway.task_activity.TaskActivity: managers' live feed of a task
    "api",  # str: the API's public base URL, for the URLs in answers
    "audit",  # gateway.audit.AuditLog
    "browse",  # gateway.browse.Browser: the task browser's read model
    "bus",  # gateway.bus.CommandBus
    "catalog",  # gateway.repository.Catalog: the gateway's own data
    "commands",  # gateway.dispatch.Commands: a request's command published and answered
    "gate",  # gateway.ratelimit.RequestGate
    "invalidation",  # gateway.invalidation.Invalidation
    "jobs",  # gateway.jobs.Jobs: imports and exports
    "links",  # gateway.links.Links: invitations, resets, sign-in links
    "moves",  # gateway.controllers.workflow.Moves: moving through a task's items
    "redis",  # the Redis client (single sign-on's short-lived state)
    "sessions",  # gateway.sessions.Sessions
    "settings",  # shared.platform.settings.Settings
    "sso",  # gateway.oidc.SingleSignOn, or None while OIDC is not configured
    "tasks",  # gateway.task_reads.TaskReads
    "throttle",  # gateway.passwords.SignInThrottle
    "tokens",  # gateway.auth.TokenResolver
    "workflow",  # gateway.workflow_reads.WorkflowReads
)


def _adapter(gw: Gateway, name: str) -> Callable[[], Any]:
    def provide() -> Any:
        return getattr(gw, name)

    provide.__name__ = f"provide_{name}"
    return provide


def _grant(request: Request) -> Any:
    return request.state.grant


def dependencies(gw: Gateway) -> dict[str, Provide]:
    """The app-level dependencies, read from `gw`. `gateway` is the container itself, for
    the few that take all of it: the import and export jobs, which outlive their request and
    another replica may resume (gateway.jobs), and the readiness check."""
    provided = {name: Provide(_adapter(gw, name), sync_to_thread=False) for name in ADAPTERS}
    return provided | {
        "gateway": Provide(lambda: gw, sync_to_thread=False),
        "grant": Provide(_grant, sync_to_thread=False),
    }
