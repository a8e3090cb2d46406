"""Mailing one-time links over SMTP, against a small SMTP server on a loopback port (a
stand-in for the mail relay, which is another team's service)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from gateway.mail import send_link
from shared.platform.settings import Settings

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def smtp_server() -> AsyncIterator[tuple[int, list[str]]]:
    """Just enough SMTP (RFC 5321) to accept messages; each one's text is kept."""
    received: list[str] = []

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        await say("220 test ESMTP")
        while line := (await reader.readline()).decode().strip():
            verb = line.split(" ", 1)[0].upper()
            if verb == "DATA":
                await say("354 go on")
                lines = []
                while (text := (await reader.readline()).decode()) not in (".\r\n", ""):
                    lines.append(text)
                received.append("".join(lines))
                await say("250 queued")
            elif verb == "QUIT":
                await say("221 bye")
                break
            else:
                await say("250 ok")
        writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1], received


async def test_a_link_is_mailed_when_smtp_is_configured():
    async with smtp_server() as (port, received):
        settings = Settings(SMTP_HOST="127.0.0.1", SMTP_PORT=port, SMTP_FROM="admin@example.com")
        sent = await send_link(settings, "ann@example.com", "invitation",
                               "http://example.com/invitations/s3cret", datetime(2030, 1, 2, tzinfo=UTC))
    assert sent and len(received) == 1
    assert "To: ann@example.com" in received[0] and "From: admin@example.com" in received[0]
    assert "http://example.com/invitations/s3cret" in received[0] and "2030-01-02" in received[0]


async def test_no_smtp_host_sends_nothing_and_a_dead_relay_fails_no_request():
    assert not await send_link(Settings(SMTP_HOST=""), "a@example.com", "reset", "u", datetime.now(UTC))
    async with smtp_server() as (port, _):
        pass  # closed: nothing listens on the port any more
    dead = Settings(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    assert not await send_link(dead, "a@example.com", "reset", "u", datetime.now(UTC))
