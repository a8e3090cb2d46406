"""A project's pending invitations (list, re-issue, revoke) and password-reset links for
its members: owners only. A link's secret is shown once, in the answer that makes it."""

from __future__ import annotations

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.params import FromPath

from gateway import membership
from gateway.accounts import Accounts
from gateway.answers import Listed, PasswordReset, PendingLink, ReissuedInvitation
from gateway.links import Links, link_json
from gateway.membership import MembershipRefused
from gateway.repository import Catalog
from shared.platform.settings import Settings


class InvitationController(Controller):
    path = "/api/v1/projects/{project_id:str}"
    tags = ["members"]

    @get("/invitations")
    async def list_invitations(
        self, project_id: FromPath[str], links: NamedDependency[Links],
    ) -> Listed[PendingLink]:
        """Invitations not used nor revoked (expired ones too, flagged: re-issue them)."""
        return {"items": [link_json(d) for d in await links.pending(project_id)]}

    @post("/invitations/{invitation_id:str}/reissue")
    async def reissue_invitation(
        self, project_id: FromPath[str], invitation_id: FromPath[str], request: Request,
        links: NamedDependency[Links], accounts: NamedDependency[Accounts],
    ) -> ReissuedInvitation:
        """Revoke the invitation and make a new one (new link, new expiry) for the same
        person and role; 409 when they have an account by now."""
        old = await links.revoke(project_id, invitation_id)
        if old is None:
            raise NotFoundException(f"no pending invitation {invitation_id}")
        user = {"id": old["userId"], "email": old["email"]}
        if await accounts.has_account(user):
            raise HTTPException(status_code=409, detail=f"{old['email']} has an account now: "
                                "no invitation is needed (the old one is revoked)")
        made = await accounts.link("invitation", user, project_id=project_id, role=old["role"],
                                      by=request.user.user_id)
        return {"email": old["email"], "role": old["role"], "invitation": made}

    @delete("/invitations/{invitation_id:str}")
    async def revoke_invitation(
        self, project_id: FromPath[str], invitation_id: FromPath[str], links: NamedDependency[Links]
    ) -> None:
        """The link stops working; the membership stays (remove the member for that)."""
        if await links.revoke(project_id, invitation_id) is None:
            raise NotFoundException(f"no pending invitation {invitation_id}")

    @post("/members/{user_id:str}/password-reset")
    async def issue_password_reset(
        self, project_id: FromPath[str], user_id: FromPath[str], request: Request,
        catalog: NamedDependency[Catalog], links: NamedDependency[Links],
        accounts: NamedDependency[Accounts], settings: NamedDependency[Settings],
    ) -> PasswordReset:
        """A one-time password-reset link for a member (mailed too when SMTP is set), valid
        RESET_TTL_HOURS; older unused reset links of the member stop working."""
        project = await catalog.get("projects", project_id) or {"members": []}
        try:
            membership.find(project["members"], user_id)
        except MembershipRefused:
            raise NotFoundException(f"no member {user_id} in this project") from None
        user = await catalog.user(user_id)
        if user is None:
            raise NotFoundException(f"no member {user_id}")
        # A reset link hands its holder the whole account: shown only to someone who owns
        # every project the member works in; otherwise it goes by mail alone, or not at all.
        elsewhere = await catalog.projects_not_owned_by(user_id, request.user.user_id)
        if elsewhere and not settings.smtp_host:
            raise PermissionDeniedException(
                f"{user['email']} also works in {len(elsewhere)} project(s) you do not own: a reset "
                "link shown here would hand you their account there; with SMTP configured it is "
                "mailed to them instead")
        await links.revoke_all(user_id, "reset")
        made = await accounts.link("reset", user, project_id=project_id, by=request.user.user_id)
        if elsewhere:
            return {"id": made["id"], "expiresAt": made["expiresAt"], "mailed": True, "email": user["email"]}
        return made | {"email": user["email"]}
