"""Log lines never carry a secret: tokens, passwords (spaces and all), cookies, OIDC codes,
one-time links' secrets; a JSON line stays JSON once redacted."""

from __future__ import annotations

import json
import logging

import pytest

from shared.platform.observability.logs import REDACTED, JsonFormatter, redact

pytestmark = pytest.mark.unit

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXNlY3JldA"
PASSWORD = "correct horse battery staple"


@pytest.mark.parametrize("text", [
    f"Authorization: Bearer {TOKEN}",
    "authorization: Basic dXNlcjpwYXNzd29yZA==",
    f"GET /api/v1/feed?access_token={TOKEN}&x=1",
    f"{{'password': '{PASSWORD}', 'email': 'a@b.c'}}",
    json.dumps({"password": PASSWORD, "token": "plain-opaque-token"}),
    json.dumps({"message": json.dumps({"newPassword": PASSWORD})}),  # a JSON line within a line
    "cookie: clf_session=s3ss10n; clf_csrf=csrfvalue",
    "GET /oidc/callback?code=authcode123&state=st4te",
    "GET /invitations/inv1t3s3cr3t answered 410",
    "client_secret=shh-its-secret",
])
def test_secrets_are_redacted(text):
    redacted = redact(text)
    assert REDACTED in redacted
    for secret in (TOKEN, PASSWORD, "horse battery", "dXNlcjpwYXNzd29yZA", "plain-opaque-token", "s3ss10n",
                   "csrfvalue", "authcode123", "st4te", "inv1t3s3cr3t", "shh-its-secret"):
        assert secret not in redacted


def test_a_line_without_secrets_is_left_alone():
    line = json.dumps({"route": "/api/v1/tokens", "status": 201, "correlationId": "abc", "durationMs": 1.5})
    assert redact(line) == line
    assert redact("/invitations/{secret}/accept") == "/invitations/{secret}/accept"


def test_a_json_line_stays_json_once_redacted():
    record = logging.LogRecord("classifier.test", logging.WARNING, __file__, 1, "a careless line",
                               (), None)
    record.clf = {"password": PASSWORD, "headers": {"Authorization": f"Bearer {TOKEN}"},
                  "correlationId": "c1"}
    line = json.loads(JsonFormatter().format(record))
    assert line["password"] == REDACTED and line["correlationId"] == "c1"
    assert TOKEN not in json.dumps(line) and "battery" not in line["password"]
