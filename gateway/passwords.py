"""Passwords (argon2 through pwdlib) and the throttling of failed sign-ins (Redis).

Hashing runs in a worker thread: argon2 is slow on purpose, and the event loop must not
wait for it. An unknown email is checked against a dummy hash, so a wrong email takes as
long as a wrong password and the answer never tells whether an account exists.

Failed sign-ins are counted per account (its email's digest) and per client address in
fixed windows of SIGNIN_WINDOW_SECONDS; past SIGNIN_ATTEMPTS (per address
SIGNIN_ADDRESS_ATTEMPTS) either answers 429 with
Retry-After until the window ends (never a lock for good). A success clears the account's
count. The counters live in Redis, so they hold across gateway replicas.
"""

from __future__ import annotations

import asyncio
import hashlib

from litestar.exceptions import TooManyRequestsException
from pwdlib import PasswordHash
from redis.asyncio import Redis

from shared.platform.settings import Settings

_HASHER = PasswordHash.recommended()  # argon2id with the library's current parameters
_DUMMY = _HASHER.hash("a password nobody has")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)


async def verify_password(password: str, hashed: str | None) -> bool:
    """True when `password` matches; an account without a password never matches, after
    the same work as one with."""
    ok = await asyncio.to_thread(_HASHER.verify, password, hashed or _DUMMY)
    return ok and hashed is not None


class SignInThrottle:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.ns = settings.namespace
        self.attempts = (settings.signin_attempts, settings.signin_address_attempts)
        self.window = settings.signin_window_s

    def _keys(self, email: str, address: str) -> list[str]:
        account = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        return [f"{self.ns}:signin-failed:account:{account}",
                f"{self.ns}:signin-failed:address:{address}"]

    async def check(self, email: str, address: str) -> None:
        """429 with Retry-After while the account or the address has failed too often."""
        keys = self._keys(email, address)
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.get(key)
                pipe.ttl(key)
            account, account_ttl, addr, addr_ttl = await pipe.execute()
        waits = [ttl for count, ttl, most in ((account, account_ttl, self.attempts[0]),
                                              (addr, addr_ttl, self.attempts[1]))
                 if count is not None and int(count) >= most]
        if waits:
            wait = max(1, max(waits))
            raise TooManyRequestsException(
                f"too many failed sign-ins; try again in {wait} s",
                headers={"Retry-After": str(wait)})

    async def failed(self, email: str, address: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in self._keys(email, address):
                pipe.incr(key)
                pipe.expire(key, self.window, nx=True)
            await pipe.execute()

    async def succeeded(self, email: str, address: str) -> None:
        await self.redis.delete(self._keys(email, address)[0])
