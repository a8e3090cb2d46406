"""503 answers for a dependency that is down or too busy: which one, and when to try again.

A request that meets Redis or MongoDB down, or every pooled connection still busy after the
bounded wait (REDIS_POOL_WAIT_SECONDS), is refused honestly: 503 with Retry-After and the
dependency's name, never a 500. Other driver errors (a wrong command, a broken document)
are bugs and stay 500s.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException
from pymongo.errors import ConnectionFailure
from redis import exceptions as redis_errors

RETRY_AFTER_S = 1

# ConnectionError covers a refused or lost connection, MaxConnectionsError and a pool wait
# that ran out, BusyLoadingError (a restarted server loading its AOF); the others are a
# server that cannot take writes now.
REDIS_UNAVAILABLE: tuple[type[Exception], ...] = (
    redis_errors.ConnectionError, redis_errors.TimeoutError, redis_errors.ReadOnlyError,
    redis_errors.OutOfMemoryError, redis_errors.TryAgainError, redis_errors.ClusterDownError,
)
# ConnectionFailure covers ServerSelectionTimeoutError, AutoReconnect, NetworkTimeout,
# NotPrimaryError (an election) and WaitQueueTimeoutError (every pooled connection busy).
MONGODB_UNAVAILABLE: tuple[type[Exception], ...] = (ConnectionFailure,)


class DependencyUnavailable(HTTPException):
    """Raised where a handler knows which dependency failed and what it could not do."""

    status_code = 503

    def __init__(self, dependency: str, detail: str) -> None:
        super().__init__(detail=detail)
        self.dependency = dependency


def answer(dependency: str, detail: str) -> Response[dict[str, Any]]:
    return Response({"status_code": 503, "detail": detail, "dependency": dependency},
                    status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})


def dependency_unavailable(_: Request, exc: DependencyUnavailable) -> Response[dict[str, Any]]:
    return answer(exc.dependency, exc.detail)


def redis_unavailable(_: Request, exc: Exception) -> Response[dict[str, Any]]:
    return answer("redis", "redis unavailable or busy; try again")


def mongodb_unavailable(_: Request, exc: Exception) -> Response[dict[str, Any]]:
    return answer("mongodb", "mongodb unavailable or busy; try again")


HANDLERS: dict[type[Exception], Any] = (
    {DependencyUnavailable: dependency_unavailable}
    | {cls: redis_unavailable for cls in REDIS_UNAVAILABLE}
    | {cls: mongodb_unavailable for cls in MONGODB_UNAVAILABLE}
)
