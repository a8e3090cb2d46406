"""Per-request checks shared by every gateway replica, in one Redis command (the Lua script
`lua/rate_check.lua`, cheaper for the client than a pipeline): has this token been revoked,
and is it over its rate limit (a fixed one-minute window per token)?

Both live in Redis, so they hold across replicas. The revocation marker only has to
outlive the token caches (two seconds); after that MongoDB's `revokedAt` answers too.
"""

from __future__ import annotations

import math
import time

from litestar.exceptions import NotAuthorizedException, TooManyRequestsException
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.auth import Principal
from gateway.unavailable import DependencyUnavailable
from shared.platform.scripts import lua

WINDOW_S = 60
REVOKED_TTL_S = 24 * 3600


class RequestGate:
    def __init__(self, redis: Redis, namespace: str, per_minute: int) -> None:
        self.redis = redis
        self.ns = namespace
        self.per_minute = per_minute
        self.check = redis.register_script(lua("gateway", "rate_check"))

    def _revoked_key(self, token_id: str) -> str:
        return f"{self.ns}:revoked:{token_id}"

    async def admit(self, principal: Principal) -> None:
        """401 for a token revoked on any replica, 429 with Retry-After past the limit."""
        now = time.time()
        window = int(now // WINDOW_S)
        counter = f"{self.ns}:ratelimit:{principal.token_id}:{window}"
        try:
            revoked, count = await self.check(
                keys=[self._revoked_key(principal.token_id), counter],
                args=[self.per_minute, WINDOW_S * 2])
        except RedisError:
            raise DependencyUnavailable(
                "redis", "redis unavailable or busy: cannot check the token now; try again"
            ) from None
        if revoked:
            raise NotAuthorizedException("the bearer token is unknown, expired or revoked")
        if self.per_minute > 0 and count > self.per_minute:
            wait = max(1, math.ceil((window + 1) * WINDOW_S - now))
            raise TooManyRequestsException(
                f"more than {self.per_minute} requests a minute with this token; "
                f"retry in {wait} s", headers={"Retry-After": str(wait)})

    async def revoked(self, token_id: str) -> None:
        """Every replica refuses the token from now on."""
        await self.redis.set(self._revoked_key(token_id), "1", ex=REVOKED_TTL_S)
