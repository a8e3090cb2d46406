"""The platform's processes as deployed, for the tests that kill them: each service and the
gateway a subprocess of the test on the test's servers, ready before it is used, and killed
(SIGKILL) when the test is done with it or wants it dead."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from deploy.embedded import free_port
from shared.platform.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def spawn(module: str, settings: Settings, port: int, **env: str) -> subprocess.Popen:
    """`python -m module` on the test's servers, namespace and database, listening on `port`;
    a dead consumer's pending entries are reclaimed after a second."""
    env = os.environ | {
        "REDIS_URL": settings.redis_url, "MONGODB_URL": settings.mongodb_url,
        "MONGODB_DB": settings.mongodb_db, "STREAM_NAMESPACE": settings.namespace,
        "PUBLIC_URL": settings.public_url, "RECLAIM_IDLE_MS": "1000", "MAX_DELIVERIES": "10",
        "PORT": str(port),
    } | env
    return subprocess.Popen([sys.executable, "-m", module], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)


def wait_ready(proc: subprocess.Popen, port: int, what: str, timeout: float = 60) -> None:
    """Until the process answers 200 on /health/ready (it fails if the process exits)."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"{what} exited with {proc.returncode}"
        assert time.monotonic() < deadline, f"{what} not ready"
        with contextlib.suppress(Exception), urllib.request.urlopen(
                f"http://127.0.0.1:{port}/health/ready", timeout=2) as r:
            if r.status == 200:
                return
        time.sleep(0.1)


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL, as a crash would: no shutdown hook runs."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


@contextlib.contextmanager
def service(name: str, settings: Settings, generation: int) -> Iterator[subprocess.Popen]:
    """The service as its own process (as deployed), ready to consume; killed on exit."""
    port = free_port()
    proc = spawn(f"services.{name}", settings, port, CONSUMER_NAME=f"{name}-{generation}")
    try:
        wait_ready(proc, port, name)
        yield proc
    finally:
        kill(proc)


class Fleet:
    """The three services and the gateway as processes, started and killed one at a time; the
    gateway always on one port, so clients find it again after a restart."""

    def __init__(self, settings: Settings, gateway_env: dict[str, str] | None = None) -> None:
        self.settings, self.gateway_env, self.gateway_port = settings, gateway_env or {}, free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        self.generation: Counter[str] = Counter()

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    async def start(self, name: str) -> None:
        """Start "gateway" or a service by name (a new consumer name each time), until ready."""
        self.generation[name] += 1
        if name == "gateway":
            port, proc = self.gateway_port, spawn("gateway", self.settings, self.gateway_port, **self.gateway_env)
        else:
            port = free_port()
            proc = spawn(f"services.{name}", self.settings, port, CONSUMER_NAME=f"{name}-{self.generation[name]}")
        self.procs[name] = proc
        await asyncio.to_thread(wait_ready, proc, port, name)

    def kill(self, name: str) -> None:
        kill(self.procs[name])

    def stop(self) -> None:
        for proc in self.procs.values():
            kill(proc)
