"""Mailing one-time links, only when SMTP_HOST is set (no mail server is assumed)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from datetime import datetime
from email.message import EmailMessage

from shared.platform.settings import Settings

log = logging.getLogger("classifier.gateway")
SUBJECTS = {"invitation": "You are invited to the classifier platform",
            "reset": "Reset your classifier platform password",
            "signin": "Your classifier platform sign-in link"}


def _send(settings: Settings, message: EmailMessage) -> None:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
        if settings.smtp_user:
            smtp.starttls()
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(message)


async def send_link(settings: Settings, to: str, kind: str, url: str, expires_at: datetime) -> bool:
    """True when mailed; a mail failure is logged, never fails the request (the owner
    still has the link in the answer)."""
    if not settings.smtp_host:
        return False
    message = EmailMessage()
    message["Subject"] = SUBJECTS[kind]
    message["From"] = settings.smtp_from or settings.smtp_user or "classifier@localhost"
    message["To"] = to
    message.set_content(f"Open this link (it works once, until {expires_at:%Y-%m-%d %H:%M} UTC):"
                        f"\n\n{url}\n")
    try:
        await asyncio.to_thread(_send, settings, message)
        return True
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("could not mail the %s link to %s: %s", kind, to, exc)
        return False
