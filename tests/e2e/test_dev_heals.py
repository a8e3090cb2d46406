"""`make run` heals: its supervisor restarts a killed Valkey or MongoDB-wire server on the
same port with its data, readiness and requests say at once which one is down meanwhile,
and the services and the gateway carry on by themselves once it is back."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from deploy.embedded import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LABEL = "not clothing"  # a label of the demo recipe (deploy/seed.py)
RESTART_DELAY_S = 3  # long enough to look at the platform while a server is dead
FAST_S = 2.0  # readiness and a refused request answer within this
# A server killed outright loses the writes of its last second (Valkey's AOF is fsynced every
# second, secantus flushes its log about as often, like mongod's default j:false).
FLUSHED_S = 1.5


@dataclass
class Runner:
    """`python -m deploy.dev` as a child of the test, its output read line by line."""

    proc: subprocess.Popen
    base: str
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)
    pids: dict[str, int] = field(default_factory=dict)  # each child's latest pid
    token: str = ""
    item: str = ""

    def read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def until(self, pattern: str, timeout: float) -> re.Match[str]:
        """The next output line matching `pattern` (noting every child's pid on the way)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if started := re.match(r"\[dev\] (\w+) started \(pid (\d+)\)", line):
                self.pids[started[1]] = int(started[2])
            if found := re.search(pattern, line):
                return found
        raise AssertionError(f"no line like {pattern!r} in {timeout} s; last: {self.seen[-20:]}")


@contextlib.contextmanager
def dev_runner(data_dir: Path) -> Iterator[Runner]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "MONGODB_URL")} | {
        "DATA_DIR": str(data_dir), "GATEWAY_PORT": str(port), "PYTHONUNBUFFERED": "1",
        "DEV_RESTART_DELAY_SECONDS": str(RESTART_DELAY_S)}
    proc = subprocess.Popen([sys.executable, "-m", "deploy.dev"], cwd=ROOT, env=env, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    runner = Runner(proc, f"http://127.0.0.1:{port}")
    threading.Thread(target=runner.read, daemon=True).start()
    try:
        runner.token = runner.until(r"API token \(shown once\):\s+(\S+)", 90)[1]
        runner.item = runner.until(r"/api/v1/items/(\w+)/annotations", 5)[1]
        yield runner
    finally:
        stop(runner)


def stop(runner: Runner) -> None:
    """SIGTERM, as Ctrl+C: the runner stops every child it started, servers included."""
    proc = runner.proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(40)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    for name, pid in runner.pids.items():  # nothing it started outlives it
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
            raise AssertionError(f"{name} (pid {pid}) outlived the runner")


def kill(runner: Runner, name: str) -> int:
    pid = runner.pids[name]
    os.kill(pid, signal.SIGKILL)
    return pid


def timed(call) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = call()
    return answer, time.monotonic() - started


def classify_until_created(http: httpx.Client, runner: Runner, timeout: float = 30) -> None:
    """A client's classify after an outage: retried with its Idempotency-Key until 201."""
    key, deadline = uuid.uuid4().hex, time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = http.post(f"/api/v1/items/{runner.item}/annotations", json={"label": LABEL},
                      headers={"Idempotency-Key": key})
        assert r.status_code in (201, 202, 503), r.text
        if r.status_code == 201:
            assert r.json()["label"] == LABEL
            return
        time.sleep(0.5)
    raise AssertionError(f"no 201 in {timeout} s; last answer {r.status_code} {r.text}")


def outage(http: httpx.Client, runner: Runner, server: str, dependency: str) -> None:
    old = kill(runner, server)
    ready, took = timed(lambda: http.get("/health/ready"))
    assert ready.status_code == 503 and took < FAST_S, (ready.text, took)
    assert ready.json()["checks"][dependency] is False and dependency in ready.json()["detail"]
    assert ready.headers["retry-after"] == "1"
    if dependency == "redis":  # an authenticated request meets it first (token check)
        refused, took = timed(lambda: http.get("/api/v1/users/me"))
        assert refused.status_code == 503 and took < FAST_S, (refused.text, took)
        assert refused.json()["dependency"] == "redis" and refused.headers["retry-after"] == "1"
    new = int(runner.until(rf"\[dev\] {server} started \(pid (\d+)\)", RESTART_DELAY_S + 10)[1])
    assert new != old
    classify_until_created(http, runner)


def test_make_run_heals_a_killed_valkey_and_a_killed_mongodb_wire_server(tmp_path):
    with dev_runner(tmp_path) as runner, httpx.Client(
            base_url=runner.base, headers={"Authorization": f"Bearer {runner.token}"},
            timeout=15) as http:
        assert http.get("/health/ready").status_code == 200
        outage(http, runner, "valkey", "redis")
        time.sleep(FLUSHED_S)
        outage(http, runner, "secantus", "mongodb")
        # the data outlived both servers: the demo project and both classifications
        r = http.get(f"/api/v1/items/{runner.item}/annotations")
        assert r.status_code == 200 and r.json()["annotationsCount"] >= 2, r.text
        assert http.get("/health/ready").status_code == 200
