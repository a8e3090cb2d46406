"""Error responses: every client error names the field and the rule it broke."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from logging import Logger
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import Scope

from shared.rules.labels import Problem

REJECTION_STATUS = {"not_found": 404, "forbidden": 403, "conflict": 409, "invalid": 422}


class Unprocessable(HTTPException):
    status_code = 422


def unprocessable(problems: Iterable[Problem], detail: str = "the request breaks a rule",
                  source: str = "body") -> Unprocessable:
    errors = [{"field": p.field, "rule": p.rule, "source": source} for p in problems]
    return Unprocessable(detail=detail, extra=errors)


def validation_to_422(_: Request, exc: ValidationException) -> Response[dict[str, Any]]:
    """Litestar answers 400 for invalid input; this API answers 422 with field and rule."""
    errors = []
    for entry in exc.extra or []:
        if isinstance(entry, dict) and entry.get("key") == "data" and entry.get("message") == "'data'":
            # no body at all: Litestar reports the handler's missing `data` argument
            errors.append({"field": "body", "rule": "is required: send a JSON object", "source": "body"})
        elif isinstance(entry, dict):
            errors.append({
                "field": entry.get("key") or "body",
                "rule": entry.get("message", "is invalid"),
                "source": entry.get("source", "body"),
            })
        else:
            errors.append({"field": "body", "rule": str(entry), "source": "body"})
    return Response({"status_code": 422, "detail": exc.detail, "errors": errors}, status_code=422)


def unprocessable_handler(_: Request, exc: Unprocessable) -> Response[dict[str, Any]]:
    return Response(
        {"status_code": 422, "detail": exc.detail, "errors": exc.extra or []}, status_code=422
    )


def log_exception(logger: Logger, scope: Scope, _: list[str]) -> None:
    """A 4xx is the client's mistake, answered as designed: INFO, one line, no trace. A 503
    for a dependency down or busy: WARNING, one line. ERROR with the trace is kept for what
    an operator must look at: any other 5xx."""
    from gateway.unavailable import MONGODB_UNAVAILABLE, REDIS_UNAVAILABLE, DependencyUnavailable

    exc = sys.exc_info()[1]
    method, path = scope.get("method"), scope.get("path")
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        logger.info("%s %s answered %d: %s", method, path, exc.status_code, exc.detail)
    elif isinstance(exc, (DependencyUnavailable, *REDIS_UNAVAILABLE, *MONGODB_UNAVAILABLE)):
        # a dependency down or busy, answered 503 as designed: one line, no trace (under
        # overload there are hundreds; readiness names the dependency for the operator)
        logger.warning("%s %s answered 503: %s unavailable or busy: %s", method, path,
                       getattr(exc, "dependency", "redis" if isinstance(exc, REDIS_UNAVAILABLE) else "mongodb"),
                       exc)
    else:
        logger.exception("%s %s failed: %r", method, path, exc)
