"""Pure parts of browser sessions and passwords: which session data is a caller, the
CSRF tokens' signature check, argon2 verification with and without an account."""

from __future__ import annotations

import time

import pytest
from litestar.middleware.csrf import generate_csrf_token

from gateway.auth import session_principal
from gateway.passwords import hash_password, verify_password
from gateway.sessions import _tokens_match

pytestmark = pytest.mark.unit


def session(**over: object) -> dict:
    return {"userId": "u1", "email": "a@example.com", "sessionId": "s1", "via": "password",
            "createdAt": time.time(), "expiresAt": time.time() + 60} | over


def test_a_live_session_is_a_reading_and_writing_caller_with_a_session_id():
    caller = session_principal(session())
    assert caller is not None and caller.user_id == "u1" and caller.token_id == "session:s1"
    assert caller.scopes == ("read", "write") and not caller.expired()


@pytest.mark.parametrize("data", [{}, None, "junk", {"email": "a@example.com"},
                                  session(expiresAt=time.time() - 1)])
def test_an_empty_missing_or_past_its_absolute_expiry_session_is_no_caller(data):
    assert session_principal(data) is None


def test_csrf_tokens_must_be_the_same_and_signed_with_the_shared_secret():
    token = generate_csrf_token("secret")
    assert _tokens_match(token, token, "secret")
    assert not _tokens_match(token, token, "another secret")
    assert not _tokens_match(token, generate_csrf_token("secret"), "secret")
    assert not _tokens_match("0" * 128, "0" * 128, "secret")
    assert not _tokens_match("", token, "secret")


async def test_passwords_verify_with_argon2_and_no_account_never_matches():
    hashed = await hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert await verify_password("correct horse battery", hashed)
    assert not await verify_password("wrong horse battery", hashed)
    assert not await verify_password("a password nobody has", None)
