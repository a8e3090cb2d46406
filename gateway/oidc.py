"""Single sign-on with OpenID Connect: the authorization-code flow with PKCE (S256), as the
relying party: authlib's core helpers (the authorization request, the S256 challenge, the
ID token's claims), joserfc for its signature, httpx for the calls to the provider.

A sign-in's state, nonce, PKCE verifier and `next` path are kept in Redis under the state
for ten minutes and taken back once (GETDEL): a state is good for one callback, on any
replica. The state is also bound to the browser that started it (a short-lived cookie
whose digest the record keeps), so a callback replayed in another browser is refused.
The provider's discovery document and keys are cached; an unknown key id fetches the keys
again (the provider rotated them). No Litestar here: the controller maps `SignInRefused`
to its HTTP answer.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from redis.asyncio import Redis

from gateway.roles import ROLES, highest
from shared.platform.settings import Settings

CALLBACK_PATH = "/api/v1/auth/oidc/callback"
STATE_TTL_S = 600
METADATA_TTL_S = 3600
PROVIDER_TIMEOUT_S = 10.0
LEEWAY_S = 60  # clock skew allowed between us and the provider (exp, iat)
# Signatures with the provider's public keys only: never "none", nor an HMAC a key set of
# public keys could be mistaken for.
SIGNING_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                "ES512", "EdDSA")
ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")
GroupRoles = dict[str, list[tuple[str, str]]]


class SignInRefused(Exception):
    """A callback refused; `status` is the HTTP answer, `message` names the problem."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Identity:
    subject: str
    email: str
    name: str
    groups: tuple[str, ...]
    next_path: str


def parse_group_roles(text: str) -> GroupRoles:
    """OIDC_GROUP_ROLES, as JSON {"group": [{"projectId": "p", "role": "annotator"}]} or as
    "group=project:role,group=project:role"; a bad value stops the gateway at start."""
    text = text.strip()
    if not text:
        return {}
    pairs: list[tuple[str, str, str]] = []
    if text.startswith("{"):
        for group, grants in json.loads(text).items():
            pairs += [(group, g["projectId"], g["role"]) for g in grants]
    else:
        for part in filter(None, (p.strip() for p in text.split(","))):
            group, _, target = part.partition("=")
            project, _, role = target.rpartition(":")
            pairs.append((group.strip(), project.strip(), role.strip()))
    mapping: GroupRoles = {}
    for group, project, role in pairs:
        if not group or not project or role not in ROLES:
            raise ValueError(f"OIDC_GROUP_ROLES: '{group}={project}:{role}' needs a group, a "
                             f"project id and one of the roles {', '.join(ROLES)}")
        mapping.setdefault(group, []).append((project, role))
    return mapping


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def safe_next(path: str | None) -> str | None:
    """`path` when it stays on this site (an absolute path, no scheme, no host), else None."""
    if not path:
        return "/"
    if not path.startswith("/") or path.startswith(("//", "/\\")) or any(c in path for c in "\r\n\\"):
        return None
    return path


async def _get_json(url: str) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=PROVIDER_TIMEOUT_S) as http:
            return (await http.get(url)).raise_for_status().json()
    except (httpx.HTTPError, ValueError) as failed:
        raise SignInRefused(502, f"the identity provider did not answer {url}: {failed}") from None


class SingleSignOn:
    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.client_secret = settings.oidc_client_secret
        self.scopes = settings.oidc_scopes
        self.groups_claim = settings.oidc_groups_claim
        self.group_roles = parse_group_roles(settings.oidc_group_roles)
        self.redirect_uri = settings.public_url.rstrip("/") + CALLBACK_PATH
        self.namespace = settings.namespace
        self._metadata: dict[str, Any] = {}
        self._fetched_at = 0.0

    @classmethod
    def configured(cls, settings: Settings) -> SingleSignOn | None:
        if not settings.oidc_issuer.strip():
            return None
        if not settings.oidc_client_id:
            raise ValueError("OIDC_ISSUER is set but OIDC_CLIENT_ID is empty")
        return cls(settings)

    def state_key(self, state: str) -> str:
        return f"{self.namespace}:oidc:state:{state}"

    async def metadata(self, *, keys: bool = False) -> dict[str, Any]:
        """The discovery document (with the provider's keys under "jwks" once fetched),
        cached for an hour; `keys` fetches the keys again."""
        if not self._metadata or time.monotonic() - self._fetched_at > METADATA_TTL_S:
            found = await _get_json(self.issuer + "/.well-known/openid-configuration")
            if str(found.get("issuer", "")).rstrip("/") != self.issuer:
                raise SignInRefused(502, f"the identity provider's discovery document names "
                                         f"issuer {found.get('issuer')!r}, not {self.issuer!r}")
            if missing := [name for name in ENDPOINTS if not found.get(name)]:
                raise SignInRefused(502, f"the identity provider's discovery document has no "
                                         f"{', '.join(missing)}")
            self._metadata, self._fetched_at = found, time.monotonic()
        if keys or "jwks" not in self._metadata:
            self._metadata["jwks"] = await _get_json(self._metadata["jwks_uri"])
        return self._metadata

    async def begin(self, redis: Redis, browser: str, next_path: str) -> str:
        """The provider's authorization URL for a new sign-in, its secrets kept in Redis."""
        meta = await self.metadata()
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        record = {"nonce": nonce, "verifier": verifier, "browser": _digest(browser), "next": next_path}
        await redis.set(self.state_key(state), json.dumps(record), ex=STATE_TTL_S)
        return prepare_grant_uri(
            meta["authorization_endpoint"], self.client_id, "code", redirect_uri=self.redirect_uri,
            scope=self.scopes, state=state, nonce=nonce,
            code_challenge=create_s256_code_challenge(verifier), code_challenge_method="S256")

    async def finish(self, redis: Redis, browser: str | None, state: str, code: str) -> Identity:
        """The identity the provider vouches for, or SignInRefused naming the problem."""
        raw = await redis.getdel(self.state_key(state))  # once: a reused state finds nothing
        if raw is None:
            raise SignInRefused(400, "state: unknown, expired (after 10 minutes) or already "
                                     "used; start again at /api/v1/auth/oidc/login")
        record = json.loads(raw)
        if not browser or not secrets.compare_digest(_digest(browser), record["browser"]):
            raise SignInRefused(400, "state: this sign-in was started in another browser "
                                     "(its cookie is missing or different)")
        claims = await self._verified_claims(await self._exchange(code, record["verifier"]), record["nonce"])
        return self._identity(claims, record["next"])

    async def _exchange(self, code: str, verifier: str) -> dict[str, Any]:
        """The provider's tokens for `code` (client_secret_basic, with the PKCE verifier)."""
        url = (await self.metadata())["token_endpoint"]
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.redirect_uri, "code_verifier": verifier}
        try:
            async with httpx.AsyncClient(timeout=PROVIDER_TIMEOUT_S) as http:
                answer = await http.post(url, data=form, auth=(self.client_id, self.client_secret),
                                         headers={"Accept": "application/json"})
            token = answer.json()
        except (httpx.HTTPError, ValueError) as failed:
            raise SignInRefused(502, f"the identity provider's token endpoint did not answer: "
                                     f"{failed}") from None
        if answer.is_error or "error" in token:
            why = token.get("error_description") or token.get("error") or answer.status_code
            raise SignInRefused(401, f"code: the identity provider refused it: {why}")
        if "id_token" not in token:
            raise SignInRefused(401, "id_token: the identity provider sent none "
                                     "(is 'openid' in OIDC_SCOPES?)")
        return token

    async def _verified_claims(self, token: dict[str, Any], nonce: str) -> CodeIDToken:
        meta = await self.metadata()
        offered = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [alg for alg in offered if alg in SIGNING_ALGS]
        try:
            try:
                decoded = jwt.decode(token["id_token"], KeySet.import_key_set(meta["jwks"]), algorithms)
            except InvalidKeyIdError:  # the provider rotated its keys
                meta = await self.metadata(keys=True)
                decoded = jwt.decode(token["id_token"], KeySet.import_key_set(meta["jwks"]), algorithms)
            claims = CodeIDToken(
                decoded.claims, decoded.header,
                {"iss": {"essential": True, "value": self.issuer},
                 "aud": {"essential": True, "value": self.client_id}},
                {"nonce": nonce, "client_id": self.client_id, "access_token": token.get("access_token")})
            claims.validate(leeway=LEEWAY_S)
        except ExpiredTokenError:
            raise SignInRefused(401, "id_token: expired") from None
        except ClaimError as bad:
            if bad.claim == "nonce":
                raise SignInRefused(401, "nonce: the ID token's nonce is not the one this sign-in "
                                         "sent (a replayed or mixed-up answer)") from None
            raise SignInRefused(401, f"id_token: its '{bad.claim}' claim is wrong or missing") from None
        except JoseError as bad:
            raise SignInRefused(401, f"id_token: does not verify against the identity "
                                     f"provider's keys ({bad.description or bad.error})") from None
        return claims

    def _identity(self, claims: CodeIDToken, next_path: str) -> Identity:
        email = str(claims.get("email") or "").strip()
        if not email:
            raise SignInRefused(403, "email: the identity provider gave none (is 'email' in OIDC_SCOPES?)")
        if claims.get("email_verified") not in (True, "true"):
            raise SignInRefused(403, f"email_verified: the identity provider has not verified {email}")
        groups = claims.get(self.groups_claim, []) if self.groups_claim else []
        groups = [groups] if isinstance(groups, str) else groups
        return Identity(str(claims["sub"]), email, str(claims.get("name") or ""),
                        tuple(str(g) for g in groups if isinstance(g, str | int)), next_path)

    def grants(self, identity: Identity) -> dict[str, str]:
        """Project id -> the highest role the identity's groups map to."""
        found: dict[str, list[str]] = {}
        for group in identity.groups:
            for project, role in self.group_roles.get(group, ()):
                found.setdefault(project, []).append(role)
        return {project: highest(roles) or "annotator" for project, roles in found.items()}
