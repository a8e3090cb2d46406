"""Administration commands, run beside the gateway against the same MongoDB:

    python -m gateway.admin create-owner EMAIL [--name NAME] [--if-new]
    python -m gateway.admin first-owner

creates the user (when missing) and prints a one-time sign-in link (valid
INVITATION_TTL_HOURS) at PUBLIC_URL. Anyone signed in may create projects and so owns
them; this is how the first person gets in. `--if-new` prints nothing and makes no link
when the email has an account already, so a start step may run it on every start:
`first-owner` is `create-owner "$FIRST_OWNER_EMAIL" --if-new`, and nothing when that is
empty (compose's gateway and k8s's init container run it).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from gateway.accounts import Accounts
from gateway.links import Links
from gateway.repository import connect
from shared.platform.settings import Settings


async def create_owner(settings: Settings, email: str, name: str = "", *,
                       if_new: bool = False) -> str | None:
    """The one-time sign-in link of `email` (created if missing); None with `if_new` when
    the user has an account already."""
    catalog = connect(settings.mongodb_url, settings.mongodb_db,
                      selection_timeout_ms=settings.mongodb_selection_timeout_ms)
    try:
        await catalog.create_indexes()
        links = Links(catalog.db, settings.public_url)
        await links.create_indexes()
        accounts = Accounts(catalog.db, links, settings)
        user = await catalog.ensure_user(email.strip(), name)
        if if_new and await accounts.has_account(user):
            return None
        return (await accounts.link("signin", user))["url"]
    finally:
        catalog.client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.admin")
    commands = parser.add_subparsers(dest="command", required=True)
    owner = commands.add_parser("create-owner", help="create a user and print a one-time sign-in link")
    owner.add_argument("email")
    owner.add_argument("--name", default="")
    owner.add_argument("--if-new", action="store_true",
                       help="do nothing when the email has an account already")
    commands.add_parser("first-owner", help="create-owner FIRST_OWNER_EMAIL --if-new, when set")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "first-owner":
        if not settings.first_owner_email:
            print("FIRST_OWNER_EMAIL is not set: no first owner to create", file=sys.stderr)
            return 0
        args.email, args.name, args.if_new = settings.first_owner_email, "", True
    if "@" not in args.email:
        parser.error(f"not an email address: {args.email!r}")
    url = asyncio.run(create_owner(settings, args.email, args.name, if_new=args.if_new))
    if url is None:
        print(f"{args.email} has an account already: no link made", file=sys.stderr)
    else:
        print(f"One-time sign-in link for {args.email} (open it in a browser): {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
