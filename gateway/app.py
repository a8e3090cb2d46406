"""The gateway: `create_app()` builds the Litestar application (run with uvicorn)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import ValidationException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from gateway import observability as obs
from gateway.assets import docs_viewers, vendor_router
from gateway.audit import AuditMiddleware
from gateway.auth import BearerAuth
from gateway.container import Gateway
from gateway.controllers.accounts import SignInController
from gateway.controllers.activity import TaskActivityController
from gateway.controllers.annotations import AnnotationController
from gateway.controllers.bulk import BulkController
from gateway.controllers.datasets import DatasetController
from gateway.controllers.dtlpy import DtlpyController
from gateway.controllers.dtlpy_tasks import DtlpyTaskController
from gateway.controllers.exports import ExportController
from gateway.controllers.imports import ImportController
from gateway.controllers.invitations import InvitationController
from gateway.controllers.items import ItemController
from gateway.controllers.keymap import KeymapController
from gateway.controllers.members import MemberController
from gateway.controllers.oidc import OidcController
from gateway.controllers.organizations import OrganizationController
from gateway.controllers.pages import PageController
from gateway.controllers.preferences import PreferencesController
from gateway.controllers.projects import ProjectController
from gateway.controllers.recipes import RecipeController
from gateway.controllers.scenes import SceneController
from gateway.controllers.system import OperationController, UserController, asyncapi, live, ready
from gateway.controllers.tasks import AssignmentController, TaskController
from gateway.controllers.tokens import TokenController
from gateway.controllers.workflow import WorkflowController
from gateway.dependencies import dependencies
from gateway.dispatch import Replayed, replayed_handler
from gateway.errors import Unprocessable, log_exception, unprocessable_handler, validation_to_422
from gateway.guards import authorizer, check_rules
from gateway.limits import MAX_BODY, LimitedRequest, too_large_handler
from gateway.sessions import SessionCSRF, csrf_config, session_config
from gateway.studio import ROUTES as STUDIO_ROUTES
from gateway.studio import template_config
from gateway.unavailable import HANDLERS as UNAVAILABLE_HANDLERS
from shared.platform import observability
from shared.platform.settings import Settings

ROUTES = [
    TaskController, AssignmentController, BulkController, SceneController, WorkflowController,
    TaskActivityController,
    ProjectController, RecipeController, DatasetController, ItemController,
    AnnotationController, OperationController, UserController, live, ready, asyncapi,
    SignInController, InvitationController, PageController,
    OrganizationController, MemberController, TokenController, OidcController,
    KeymapController, PreferencesController,
    ImportController, ExportController,
    DtlpyController, DtlpyTaskController,  # Dataloop's SDK: /dtlpy/api/v1 (docs/dtlpy.md)
]

ROUTES += STUDIO_ROUTES  # the studio's pages and their modules (gateway.studio)


def create_app(settings: Settings | None = None) -> Litestar:
    observability.configure("gateway")  # before the broker is built: its middlewares
    gw = Gateway(settings or Settings())

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await gw.start()
        try:
            yield
        finally:
            await gw.stop()

    app = Litestar(
        route_handlers=[*ROUTES, vendor_router(), *obs.routes()],  # vendor_router: /static/vendor, no CDN
        lifespan=[lifespan],
        state=State({"gw": gw}),  # the container, for tests and tools (handlers get dependencies)
        dependencies=dependencies(gw),  # what handlers receive: their adapters, and the guard's grant
        template_config=template_config(),
        middleware=[*obs.middleware(),  # request metrics and log lines (gateway.observability)
                    session_config(gw.settings, gw).middleware,  # loads the cookie's session
                    DefineMiddleware(BearerAuth, gateway=gw,
                                     exclude=["^/schema", "^/health", "^/docs", "^/$", "^/metrics$"]),
                    DefineMiddleware(SessionCSRF, config=csrf_config(gw.settings), gateway=gw),
                    AuditMiddleware(gw)],
        guards=[authorizer(gw)],  # every route: the rule of gateway.roles.RULES for its handler
        exception_handlers={ValidationException: validation_to_422, Unprocessable: unprocessable_handler,
                            Replayed: replayed_handler,
                            413: too_large_handler,
                            **UNAVAILABLE_HANDLERS},  # Redis or MongoDB down or busy: 503
        request_class=LimitedRequest,  # every JSON body within gateway.limits
        request_max_body_size=MAX_BODY,
        openapi_config=OpenAPIConfig(
            title="Classifier platform API",
            version="1.0.0",
            description="Classification annotation of images and video scenes, Dataloop-compatible.",
            path="/schema",
            render_plugins=docs_viewers(),  # Swagger UI on vendored files
            components=Components(security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer", description="personal API token"),
                "session": SecurityScheme(
                    type="apiKey", name="clf_session", security_scheme_in="cookie",
                    description="browser session (POST /api/v1/session); writes also send "
                                "X-CSRF-Token: the clf_csrf cookie's value"),
            }),
            security=[{"bearer": []}, {"session": []}],
        ),
        debug=False,
        plugins=obs.plugins(),  # OpenTelemetry, while tracing
        logging_config=obs.logging_config(log_exceptions="always", exception_logging_handler=log_exception),
    )
    check_rules(app)  # a route without an access rule stops the gateway here
    return app


def main() -> None:
    """Serve the gateway; GATEWAY_WORKERS processes share the port (each is a replica with
    its own outcome listener, which the design allows)."""
    import gc

    import uvicorn

    gc.collect()  # what is imported lives as long as the process: out of full collections
    gc.freeze()
    workers = int(os.environ.get("GATEWAY_WORKERS", "1"))
    uvicorn.run("gateway.app:create_app", factory=True, workers=workers, host="0.0.0.0",
                port=int(os.environ.get("PORT", "8000")), log_level="warning", loop="auto",
                http="auto", access_log=False, log_config=observability.logging_config(),
                # live feeds (SSE) never end by themselves: closed 10 s into a shutdown, so the
                # lifespan's own shutdown (jobs let go, audit flushed) runs well before the
                # orchestrator's SIGKILL (30 s in Compose and Kubernetes)
                timeout_graceful_shutdown=10)


if __name__ == "__main__":
    main()
