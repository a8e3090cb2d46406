"""JSON log lines, one object a line, with secrets redacted from every line written.

A record's `clf` extra (a dict) becomes fields of its line: the request and command lines
(`gateway.observability`, `shared.platform.messaging`) put their correlationId, actor and outcome
there. Redaction is the last step of formatting, so no handler using this formatter can
write a bearer token, a cookie's value, a token or password field, or a one-time link's
secret, whoever logged it.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

SERVICE = ""  # the process's name (gateway, annotation, ...), set at its start
REDACTED = "[redacted]"
# (words one of which a line must hold, lower-cased, for the pattern to be tried; the pattern;
# its replacement). The words keep the patterns' cost off the common line, which holds none
# of them (docs/fast-paths.md, Log redaction's word check).
_SECRETS = [
    # Authorization: Bearer <token>; Basic <credentials>
    (("bearer", "basic"),
     re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]+"), rf"\1\2{REDACTED}"),
    # JWT-shaped strings (the API tokens are), wherever they appear
    (("eyj",), re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    # token=..., "password": "...", client_secret=..., the session and CSRF cookies: a quoted
    # value up to its closing quote (a password may hold spaces), the quotes kept, so a JSON
    # line stays JSON
    (("token", "secret", "passw", "apikey", "api_key", "clf_session", "clf_csrf", "clf_oidc",
      "cookie", "authorization"),
     re.compile(r"(?i)((?:access_?|refresh_?|id_?|api_?)?(?:token|secret|password|passwd|"
                r"api_?key|clf_session|clf_csrf|clf_oidc|cookie|authorization)"
                r"(?:\\?[\"'])?\s*[=:]\s*)"
                r"(?:(\\\")(?:[^\\]|\\[^\"])*?(?=\\\")|(\")(?:[^\"\\]|\\.)*(?=\")|(')[^']*(?=')"
                r"|(?!\[redacted\])[^\s\"'&,;}\\]+)"),
     lambda m: m.group(1) + (m.group(2) or m.group(3) or m.group(4) or "") + REDACTED),
    # the OpenID Connect callback's code and state
    (("code=", "state=", "nonce=", "code_verifier="),
     re.compile(r"(?i)\b((?:code|state|nonce|code_verifier)=)[^\s\"'&,;]+"), rf"\1{REDACTED}"),
    # one-time links carry their secret in the path
    (("/invitations/", "/password-resets/", "/sign-in-links/"),
     re.compile(r"/(invitations|password-resets|sign-in-links)/(?!\{)[^/\s\"'?]+"), rf"/\1/{REDACTED}"),
]


def redact(text: str) -> str:
    lowered = text.lower()
    for words, pattern, replacement in _SECRETS:
        if any(word in lowered for word in words):
            text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", ...clf fields, "exception"}`, redacted."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if SERVICE:
            line["service"] = SERVICE
        fields = getattr(record, "clf", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return redact(json.dumps(line, default=str, ensure_ascii=False))


class RedactingFormatter(logging.Formatter):
    """The plain-text format (LOG_FORMAT=text), redacted the same way."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


TEXT_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def formatter_config(log_format: str) -> dict[str, Any]:
    """A `logging.config` formatter entry for LOG_FORMAT."""
    if log_format == "text":
        return {"()": f"{__name__}.RedactingFormatter", "format": TEXT_FORMAT}
    return {"()": f"{__name__}.JsonFormatter"}


def logging_config(log_format: str, level: str) -> dict[str, Any]:
    """A whole `logging.config.dictConfig` (uvicorn's `log_config`): everything, uvicorn's
    own loggers too, to stderr in one format."""
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"default": formatter_config(log_format)},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "default",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {name: {"handlers": [], "propagate": True}
                    for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }
