"""HTTP bodies of sign-in, invitations and passwords (strict, camelCase; gateway.schemas).
The minimum password length is a setting, checked by gateway.accounts (422 naming it)."""

from __future__ import annotations

from pydantic import Field

from gateway.schemas import Body

PASSWORD = Field(max_length=1024, description="at least MIN_PASSWORD_LENGTH characters (10 by default)")


class SignInIn(Body):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class AcceptInvitationIn(Body):
    display_name: str = Field(min_length=1, max_length=200)
    password: str = PASSWORD


class NewPasswordIn(Body):
    password: str = PASSWORD


class PasswordChangeIn(Body):
    current_password: str | None = Field(None, max_length=1024,
                                         description="needed once the account has a password")
    password: str = PASSWORD
