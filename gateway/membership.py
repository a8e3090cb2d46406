"""Membership rules of a project: pure functions from a member list to a new member list.

A project always keeps at least one owner, so nobody can lock a team out of its members.
"""

from __future__ import annotations

from typing import Any

from gateway.roles import at_least

Members = list[dict[str, Any]]


class MembershipRefused(Exception):
    """The change breaks a membership rule; `status` is the HTTP answer (404 or 409)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def find(members: Members, user_id: str) -> dict[str, Any]:
    for member in members:
        if member["userId"] == user_id:
            return member
    raise MembershipRefused(404, f"no member {user_id} in this project")


def _keeps_an_owner(members: Members) -> Members:
    if not any(m["role"] == "owner" for m in members):
        raise MembershipRefused(409, "a project needs at least one owner; "
                                     "make someone else owner first")
    return members


def add(members: Members, user: dict[str, Any], role: str) -> Members:
    if any(m["userId"] == user["id"] for m in members):
        raise MembershipRefused(409, f"{user['email']} is already a member of this project")
    return [*members, {"userId": user["id"], "email": user["email"], "role": role}]


def grant(members: Members, user: dict[str, Any], role: str) -> Members:
    """`user` holds at least `role`: added when not a member, raised when below it, never
    lowered (single sign-on's group mapping grants; it never takes a role away)."""
    for member in members:
        if member["userId"] == user["id"]:
            if at_least(member["role"], role):
                return members
            return [m | {"role": role} if m["userId"] == user["id"] else m for m in members]
    return [*members, {"userId": user["id"], "email": user["email"], "role": role}]


def change_role(members: Members, user_id: str, role: str) -> Members:
    find(members, user_id)
    return _keeps_an_owner([m | {"role": role} if m["userId"] == user_id else m for m in members])


def remove(members: Members, user_id: str) -> Members:
    find(members, user_id)
    return _keeps_an_owner([m for m in members if m["userId"] != user_id])
