"""Single sign-on's own parts: the group-to-role mapping, the `next` path, the membership
grant it applies, and the ID token's checks (tokens signed here with joserfc); no servers
(the flow itself, against a real provider: tests/e2e/test_oidc.py)."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from gateway import membership
from gateway.oidc import Identity, SignInRefused, SingleSignOn, parse_group_roles, safe_next
from shared.platform.settings import Settings

pytestmark = pytest.mark.unit

OWNER = {"userId": "u1", "email": "o@x.org", "role": "owner"}
ANN = {"userId": "u2", "email": "a@x.org", "role": "annotator"}


def test_group_roles_read_as_json_or_as_the_compact_form_alike():
    compact = parse_group_roles("annotators=p1:annotator, leads=p1:manager,leads=p2:owner")
    as_json = parse_group_roles('{"annotators": [{"projectId": "p1", "role": "annotator"}],'
                                ' "leads": [{"projectId": "p1", "role": "manager"},'
                                ' {"projectId": "p2", "role": "owner"}]}')
    assert compact == as_json == {"annotators": [("p1", "annotator")],
                                  "leads": [("p1", "manager"), ("p2", "owner")]}
    assert parse_group_roles("") == {}


@pytest.mark.parametrize("bad", ["annotators=p1:admin", "=p1:annotator", "annotators=:manager",
                                 "annotators"])
def test_a_group_mapping_with_an_unknown_role_or_no_project_stops_the_gateway(bad):
    with pytest.raises(ValueError, match="OIDC_GROUP_ROLES"):
        parse_group_roles(bad)


def test_several_groups_mapping_to_one_project_grant_the_highest_role():
    sso = SingleSignOn(Settings(OIDC_ISSUER="http://127.0.0.1:1", OIDC_CLIENT_ID="c",
                                OIDC_GROUPS_CLAIM="groups",
                                OIDC_GROUP_ROLES="a=p1:annotator,b=p1:manager,b=p2:annotator"))
    who = Identity("sub", "e@x.org", "", ("a", "b", "unmapped"), "/")
    assert sso.grants(who) == {"p1": "manager", "p2": "annotator"}


def test_single_sign_on_is_off_without_an_issuer_and_needs_a_client_id_with_one():
    assert SingleSignOn.configured(Settings()) is None
    with pytest.raises(ValueError, match="OIDC_CLIENT_ID"):
        SingleSignOn.configured(Settings(OIDC_ISSUER="http://127.0.0.1:1"))


@pytest.mark.parametrize("path,kept", [
    (None, "/"), ("", "/"), ("/", "/"), ("/studio?task=1", "/studio?task=1"),
    ("//evil.example/x", None), ("https://evil.example/", None), ("/\\evil.example", None),
    ("evil", None), ("/a\r\nSet-Cookie: x=1", None),
])
def test_next_stays_on_this_site(path, kept):
    assert safe_next(path) == kept


def test_a_grant_adds_a_stranger_raises_a_lower_role_and_never_lowers_one():
    user = {"id": "u3", "email": "n@x.org"}
    assert membership.grant([OWNER], user, "annotator")[-1] == \
        {"userId": "u3", "email": "n@x.org", "role": "annotator"}
    assert membership.grant([OWNER, ANN], {"id": "u2", "email": "a@x.org"}, "manager")[1]["role"] \
        == "manager"
    same = [OWNER, ANN]
    assert membership.grant(same, {"id": "u1", "email": "o@x.org"}, "annotator") is same
    assert membership.grant(same, {"id": "u2", "email": "a@x.org"}, "annotator") is same


ISSUER = "http://127.0.0.1:1"


def _signed_in(claims: dict, signer, published) -> tuple[SingleSignOn, str]:
    """An ID token signed by `signer`, checked by a client that knows `published` keys
    (the discovery document as if fetched a moment ago: nothing goes on the network)."""
    sso = SingleSignOn(Settings(OIDC_ISSUER=ISSUER, OIDC_CLIENT_ID="classifier"))
    sso._metadata = {"issuer": ISSUER, "jwks": KeySet([published]).as_dict(private=False),
                     "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"]}
    sso._fetched_at = time.monotonic()
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "classifier", "sub": "s", "iat": now, "exp": now + 60,
            "nonce": "n1"} | claims
    return sso, jwt.encode({"alg": "RS256", "kid": "k1"}, body, signer)


def _key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)


async def test_an_id_token_is_checked_for_signature_issuer_audience_nonce_and_expiry():
    key = _key()
    sso, good = _signed_in({}, key, key)
    assert (await sso._verified_claims({"id_token": good}, "n1"))["sub"] == "s"
    cases = [
        ({}, _key(), "id_token: does not verify"),  # signed by a key the provider did not publish
        ({"iss": "http://elsewhere"}, key, "'iss'"),
        ({"aud": "another-client"}, key, "'aud'"),
        ({"nonce": "n2"}, key, "nonce:"),
        ({"exp": int(time.time()) - 3600}, key, "expired"),
    ]
    for claims, signer, named in cases:
        sso, token = _signed_in(claims, signer, key)
        with pytest.raises(SignInRefused) as refused:
            await sso._verified_claims({"id_token": token}, "n1")
        assert refused.value.status == 401 and named in refused.value.message, (claims, refused.value.message)
