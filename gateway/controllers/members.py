"""A project's members and their roles. Any member may list them; only owners change them,
and the last owner can be neither removed nor demoted (409)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, JSONBody

from gateway import membership
from gateway.accounts import Accounts
from gateway.answers import AddedMember, Listed, Member
from gateway.guards import Grant
from gateway.invalidation import Invalidation
from gateway.links import Links
from gateway.membership import Members, MembershipRefused
from gateway.repository import Catalog
from gateway.schemas import MemberIn, MemberPatch

ATTEMPTS = 5


async def change_members(catalog: Catalog, invalidation: Invalidation, project_id: str,
                         change: Callable[[Members], Members]) -> Members:
    """Apply `change` to the current members (compare-and-set, retried when another change
    came first), then tell every replica to drop its cached copy of the project. The caller
    has checked who may (an owner here; single sign-on's group mapping in gateway.controllers.oidc)."""
    for _ in range(ATTEMPTS):
        project = await catalog.get("projects", project_id)  # fresh, never the cache
        if project is None:
            raise NotFoundException(f"no project {project_id}")
        try:
            members = change(project["members"])
        except MembershipRefused as refused:
            if refused.status == 404:
                raise NotFoundException(refused.message) from None
            raise HTTPException(status_code=refused.status, detail=refused.message) from None
        if members is project["members"]:  # nothing to change: nothing written
            return members
        version = project.get("membersVersion") or 0
        if await catalog.replace_members(project_id, members, version):
            await invalidation.changed("projects", project_id)
            return members
    raise HTTPException(status_code=409, detail="the members changed meanwhile; try again")


class MemberController(Controller):
    path = "/api/v1/projects/{project_id:str}/members"
    tags = ["members"]

    @get("/")
    async def list_members(
        self, project_id: FromPath[str], grant: NamedDependency[Grant]
    ) -> Listed[Member]:
        return {"items": grant.project["members"]}

    @post("/")
    async def add_member(
        self, project_id: FromPath[str], data: JSONBody[MemberIn], request: Request,
        catalog: NamedDependency[Catalog], invalidation: NamedDependency[Invalidation],
        accounts: NamedDependency[Accounts],
    ) -> AddedMember:
        """Add a user by email (registering the email if it is new) with a role. One without
        an account also gets an invitation: `invitation.url`, a one-time link shown only in
        this answer (and mailed when SMTP is set), valid INVITATION_TTL_HOURS."""
        user = await catalog.ensure_user(data.email.strip())
        await change_members(catalog, invalidation, project_id, lambda ms: membership.add(ms, user, data.role))
        added: dict[str, Any] = {"userId": user["id"], "email": user["email"], "role": data.role}
        invitation = await accounts.invite(user, project_id, data.role, request.user.user_id)
        return added | ({"invitation": invitation} if invitation else {})

    @patch("/{user_id:str}")
    async def change_member_role(
        self, project_id: FromPath[str], user_id: FromPath[str], data: JSONBody[MemberPatch],
        catalog: NamedDependency[Catalog], invalidation: NamedDependency[Invalidation],
    ) -> Member:
        members = await change_members(catalog, invalidation, project_id,
                                       lambda ms: membership.change_role(ms, user_id, data.role))
        return membership.find(members, user_id)

    @delete("/{user_id:str}")
    async def remove_member(
        self, project_id: FromPath[str], user_id: FromPath[str], catalog: NamedDependency[Catalog],
        invalidation: NamedDependency[Invalidation], links: NamedDependency[Links],
    ) -> None:
        await change_members(catalog, invalidation, project_id, lambda ms: membership.remove(ms, user_id))
        await links.revoke_member(project_id, user_id)  # their pending links too
