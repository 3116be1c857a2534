"""The tests' own OpenID Connect provider (tests/oidc_provider/), over plain HTTP: discovery,
the code flow with PKCE, ID tokens checked against the JWKS here (with `cryptography`, not with
the provider's code), userinfo, and each fault the console's tests rely on."""

from __future__ import annotations

import base64
import json
import secrets
import time
import urllib.parse
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.oidc_provider.fixtures import OidcProvider
from tests.oidc_provider.wire import Response, fetch, query

REDIRECT_URI = "http://127.0.0.1:8000/oidc/callback"


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _challenge(verifier: str) -> str:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(verifier.encode("ascii"))
    return base64.urlsafe_b64encode(digest.finalize()).rstrip(b"=").decode("ascii")


def verify(id_token: str, provider: OidcProvider) -> dict[str, Any]:
    """The claims of an RS256 ID token whose signature checks out against the provider's JWKS;
    raises InvalidSignature (or KeyError for a kid the JWKS lacks)."""
    header_b64, payload_b64, signature_b64 = id_token.split(".")
    header = json.loads(_b64decode(header_b64))
    assert header["alg"] == "RS256"
    keys = {key["kid"]: key for key in fetch("GET", f"{provider.issuer}/jwks").json()["keys"]}
    jwk = keys[header["kid"]]
    public_key = rsa.RSAPublicNumbers(
        int.from_bytes(_b64decode(jwk["e"]), "big"), int.from_bytes(_b64decode(jwk["n"]), "big")
    ).public_key()
    public_key.verify(
        _b64decode(signature_b64), f"{header_b64}.{payload_b64}".encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
    )
    claims: dict[str, Any] = json.loads(_b64decode(payload_b64))
    return claims


def authorize_params(provider: OidcProvider, verifier: str, **extra: str) -> dict[str, str]:
    return {
        "client_id": provider.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid email profile",
        "state": "state-123",
        "nonce": "nonce-456",
        "code_challenge": _challenge(verifier),
        "code_challenge_method": "S256",
        **extra,
    }


def authorize_url(provider: OidcProvider, params: dict[str, str]) -> str:
    return f"{provider.issuer}/authorize?{urllib.parse.urlencode(params)}"


def authorize(provider: OidcProvider, params: dict[str, str]) -> Response:
    return fetch("GET", authorize_url(provider, params))


def get_code(provider: OidcProvider, username: str, verifier: str) -> str:
    answer = authorize(provider, authorize_params(provider, verifier, login_hint=username))
    assert answer.status == 302, answer.text
    back = query(answer.location)
    assert back["state"] == "state-123"
    return back["code"]


def exchange(provider: OidcProvider, code: str, verifier: str, *, basic: bool = True) -> Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    headers = {}
    if basic:
        credentials = f"{provider.client_id}:{provider.client_secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode("ascii")
    else:
        form.update(client_id=provider.client_id, client_secret=provider.client_secret)
    return fetch("POST", f"{provider.issuer}/token", form=form, headers=headers)


def tokens_for(provider: OidcProvider, username: str = "carol") -> dict[str, Any]:
    verifier = secrets.token_urlsafe(48)
    answer = exchange(provider, get_code(provider, username, verifier), verifier)
    assert answer.status == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


def claims_of(id_token: str) -> dict[str, Any]:
    """The payload, unverified (to look at a token that must fail verification)."""
    claims: dict[str, Any] = json.loads(_b64decode(id_token.split(".")[1]))
    return claims


@pytest.fixture
def carol(oidc_provider: OidcProvider) -> str:
    return oidc_provider.add_user(
        "carol", email="carol@example.com", groups=["iam-operators"], amr=["pwd", "mfa"], acr="urn:test:mfa"
    )


def test_it_publishes_its_discovery_document(oidc_provider: OidcProvider) -> None:
    answer = fetch("GET", oidc_provider.discovery_url)
    document = answer.json()
    assert answer.status == 200
    assert document["issuer"] == oidc_provider.issuer
    assert oidc_provider.issuer.startswith("http://127.0.0.1:")
    for endpoint, path in (("authorization", "/authorize"), ("token", "/token"), ("userinfo", "/userinfo")):
        assert document[f"{endpoint}_endpoint"] == oidc_provider.issuer + path
    assert document["jwks_uri"] == oidc_provider.issuer + "/jwks"
    assert document["response_types_supported"] == ["code"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert document["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post"]
    assert {"openid", "email", "profile"} <= set(document["scopes_supported"])
    assert {"sub", "email", "groups", "nonce"} <= set(document["claims_supported"])


def test_it_issues_an_id_token_signed_with_its_jwks_key(oidc_provider: OidcProvider, carol: str) -> None:
    tokens = tokens_for(oidc_provider)
    claims = verify(tokens["id_token"], oidc_provider)
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] > 0
    assert claims["iss"] == oidc_provider.issuer
    assert claims["aud"] == oidc_provider.client_id
    assert claims["sub"] == carol
    assert claims["nonce"] == "nonce-456"
    assert claims["iat"] <= time.time() < claims["exp"]
    assert claims["email"] == "carol@example.com"
    assert claims["email_verified"] is True
    assert claims["preferred_username"] == "carol"
    assert claims["groups"] == ["iam-operators"]
    assert claims["amr"] == ["pwd", "mfa"]
    assert claims["acr"] == "urn:test:mfa"


def test_it_keeps_the_sub_of_a_user_name(oidc_provider: OidcProvider) -> None:
    first = oidc_provider.add_user("dave", email="dave@example.com", groups=[])
    oidc_provider.reset()
    assert oidc_provider.add_user("dave", email="d@example.com", groups=["x"]) == first
    assert oidc_provider.add_user("erin", email="erin@example.com", groups=[]) != first
    assert oidc_provider.add_user("erin", sub="fixed-sub") == "fixed-sub"


def test_it_leaves_out_amr_and_acr_when_the_user_has_none(oidc_provider: OidcProvider) -> None:
    oidc_provider.add_user("dave", email="dave@example.com", groups=["iam-viewers"])
    claims = verify(tokens_for(oidc_provider, "dave")["id_token"], oidc_provider)
    assert claims["groups"] == ["iam-viewers"]
    assert "amr" not in claims
    assert "acr" not in claims


def test_it_accepts_client_secret_post(oidc_provider: OidcProvider, carol: str) -> None:
    verifier = secrets.token_urlsafe(48)
    answer = exchange(oidc_provider, get_code(oidc_provider, "carol", verifier), verifier, basic=False)
    assert answer.status == 200
    assert verify(answer.json()["id_token"], oidc_provider)["sub"] == carol


def test_it_refuses_a_wrong_client_secret(oidc_provider: OidcProvider, carol: str) -> None:
    verifier = secrets.token_urlsafe(48)
    code = get_code(oidc_provider, "carol", verifier)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    answer = fetch(
        "POST", f"{oidc_provider.issuer}/token", form={**form, "client_id": "iamconsole", "client_secret": "x"}
    )
    assert answer.status == 401
    assert answer.json()["error"] == "invalid_client"


def test_it_refuses_a_wrong_code_verifier(oidc_provider: OidcProvider, carol: str) -> None:
    verifier = secrets.token_urlsafe(48)
    answer = exchange(oidc_provider, get_code(oidc_provider, "carol", verifier), secrets.token_urlsafe(48))
    assert answer.status == 400
    assert answer.json()["error"] == "invalid_grant"


def test_it_refuses_another_redirect_uri_at_the_token_endpoint(oidc_provider: OidcProvider, carol: str) -> None:
    verifier = secrets.token_urlsafe(48)
    code = get_code(oidc_provider, "carol", verifier)
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier}
    form.update(
        redirect_uri="http://127.0.0.1:8000/elsewhere", client_id="iamconsole", client_secret="test-client-secret"
    )
    answer = fetch("POST", f"{oidc_provider.issuer}/token", form=form)
    assert answer.status == 400
    assert answer.json()["error"] == "invalid_grant"


def test_it_refuses_a_code_used_twice_and_revokes_its_token(oidc_provider: OidcProvider, carol: str) -> None:
    verifier = secrets.token_urlsafe(48)
    code = get_code(oidc_provider, "carol", verifier)
    first = exchange(oidc_provider, code, verifier)
    bearer = {"Authorization": f"Bearer {first.json()['access_token']}"}
    assert fetch("GET", f"{oidc_provider.issuer}/userinfo", headers=bearer).status == 200
    again = exchange(oidc_provider, code, verifier)
    assert again.status == 400
    assert again.json()["error"] == "invalid_grant"
    assert fetch("GET", f"{oidc_provider.issuer}/userinfo", headers=bearer).status == 401


@pytest.mark.parametrize("method", [None, "plain"])
def test_it_requires_pkce_s256(oidc_provider: OidcProvider, carol: str, method: str | None) -> None:
    params = authorize_params(oidc_provider, secrets.token_urlsafe(48), login_hint="carol")
    del params["code_challenge_method"]
    if method:
        params["code_challenge_method"] = method
    answer = authorize(oidc_provider, params)
    assert answer.status == 302
    assert answer.location.startswith(REDIRECT_URI + "?")
    back = query(answer.location)
    assert back["error"] == "invalid_request"
    assert back["state"] == "state-123"
    assert "code" not in back


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "email"}, "invalid_scope"),
    ],
)
def test_it_refuses_other_flows_with_an_error_redirect(
    oidc_provider: OidcProvider, carol: str, change: dict[str, str], error: str
) -> None:
    answer = authorize(oidc_provider, authorize_params(oidc_provider, secrets.token_urlsafe(48), **change))
    assert answer.status == 302
    assert query(answer.location)["error"] == error


@pytest.mark.parametrize(
    "change", [{"client_id": "someone-else"}, {"redirect_uri": "https://evil.example.com/callback"}]
)
def test_it_never_redirects_to_an_unknown_client_or_foreign_uri(
    oidc_provider: OidcProvider, carol: str, change: dict[str, str]
) -> None:
    answer = authorize(oidc_provider, authorize_params(oidc_provider, secrets.token_urlsafe(48), **change))
    assert answer.status == 400
    assert "location" not in answer.headers
    assert "Sign-in error" in answer.text


def test_it_signs_in_through_its_page(oidc_provider: OidcProvider, carol: str) -> None:
    params = authorize_params(oidc_provider, secrets.token_urlsafe(48))
    page = authorize(oidc_provider, params)
    assert page.status == 200
    assert "<title>Sign in to Test IdP</title>" in page.text
    assert '<label for="username">Username</label>' in page.text
    assert ">Sign in</button>" in page.text
    wrong = fetch("POST", f"{oidc_provider.issuer}/authorize", form={**params, "username": "mallory"})
    assert wrong.status == 200
    assert "No user “mallory”" in wrong.text
    assert 'role="alert"' in wrong.text
    back = query(oidc_provider.sign_in(authorize_url(oidc_provider, params), "carol"))
    assert back["state"] == "state-123"
    assert back["code"]


def test_it_sends_access_denied_on_cancel(oidc_provider: OidcProvider, carol: str) -> None:
    params = authorize_params(oidc_provider, secrets.token_urlsafe(48))
    answer = fetch("POST", f"{oidc_provider.issuer}/authorize", form={**params, "action": "cancel"})
    assert answer.status == 302
    assert query(answer.location) == {
        "error": "access_denied",
        "error_description": "The user cancelled the sign-in.",
        "state": "state-123",
    }


def test_it_answers_userinfo_for_a_bearer_token(oidc_provider: OidcProvider, carol: str) -> None:
    token = tokens_for(oidc_provider)["access_token"]
    answer = fetch("GET", f"{oidc_provider.issuer}/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert answer.json() == {
        "sub": carol,
        "email": "carol@example.com",
        "email_verified": True,
        "name": "Carol",
        "preferred_username": "carol",
        "groups": ["iam-operators"],
        "amr": ["pwd", "mfa"],
        "acr": "urn:test:mfa",
    }
    refused = fetch("GET", f"{oidc_provider.issuer}/userinfo", headers={"Authorization": "Bearer nope"})
    assert refused.status == 401
    assert refused.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


def test_a_wrong_nonce_fault_changes_the_next_id_token_only(oidc_provider: OidcProvider, carol: str) -> None:
    oidc_provider.fault(nonce="wrong")
    assert verify(tokens_for(oidc_provider)["id_token"], oidc_provider)["nonce"] == "wrong"
    assert verify(tokens_for(oidc_provider)["id_token"], oidc_provider)["nonce"] == "nonce-456"


def test_an_expired_fault_puts_exp_in_the_past(oidc_provider: OidcProvider, carol: str) -> None:
    oidc_provider.fault(expired=True)
    claims = verify(tokens_for(oidc_provider)["id_token"], oidc_provider)
    assert claims["exp"] < time.time() - 600
    assert claims["iat"] < claims["exp"]


def test_an_issuer_fault_names_another_issuer(oidc_provider: OidcProvider, carol: str) -> None:
    oidc_provider.fault(issuer="http://127.0.0.1:1/other")
    assert verify(tokens_for(oidc_provider)["id_token"], oidc_provider)["iss"] == "http://127.0.0.1:1/other"


def test_an_audience_fault_names_another_client(oidc_provider: OidcProvider, carol: str) -> None:
    oidc_provider.fault(audience="another-client")
    assert verify(tokens_for(oidc_provider)["id_token"], oidc_provider)["aud"] == "another-client"


def test_a_bad_signature_fault_fails_verification(oidc_provider: OidcProvider, carol: str) -> None:
    oidc_provider.fault(bad_signature=True)
    id_token = tokens_for(oidc_provider)["id_token"]
    assert claims_of(id_token)["sub"] == carol
    with pytest.raises(InvalidSignature):
        verify(id_token, oidc_provider)


def test_an_unknown_kid_fault_names_a_key_the_jwks_lacks(oidc_provider: OidcProvider, carol: str) -> None:
    oidc_provider.fault(unknown_kid=True)
    with pytest.raises(KeyError):
        verify(tokens_for(oidc_provider)["id_token"], oidc_provider)


def test_a_drop_claims_fault_leaves_claims_out(oidc_provider: OidcProvider, carol: str) -> None:
    oidc_provider.fault(drop_claims=["email", "groups"])
    claims = verify(tokens_for(oidc_provider)["id_token"], oidc_provider)
    assert "email" not in claims
    assert "groups" not in claims
    assert claims["sub"] == carol


def test_a_token_error_fault_refuses_the_next_exchange(oidc_provider: OidcProvider, carol: str) -> None:
    oidc_provider.fault(token_error="invalid_grant")
    verifier = secrets.token_urlsafe(48)
    answer = exchange(oidc_provider, get_code(oidc_provider, "carol", verifier), verifier)
    assert answer.status == 400
    assert answer.json()["error"] == "invalid_grant"
    assert "id_token" in tokens_for(oidc_provider)


def test_a_state_fault_tampers_with_the_next_redirect_only(oidc_provider: OidcProvider, carol: str) -> None:
    oidc_provider.fault(state="tampered")
    params = authorize_params(oidc_provider, secrets.token_urlsafe(48), login_hint="carol")
    assert query(authorize(oidc_provider, params).location)["state"] == "tampered"
    assert query(authorize(oidc_provider, params).location)["state"] == "state-123"


def test_it_refuses_an_unknown_fault(oidc_provider: OidcProvider) -> None:
    answer = fetch("POST", f"{oidc_provider.issuer}/_test/faults", json_body={"nonse": "x"})
    assert answer.status == 400
    assert "unknown fault" in answer.json()["error_description"]
    with pytest.raises(ValueError, match="takes a bool"):
        oidc_provider.fault(expired="yes")


def test_reset_forgets_users_and_faults(oidc_provider: OidcProvider, carol: str) -> None:
    oidc_provider.fault(nonce="wrong")
    oidc_provider.reset()
    params = authorize_params(oidc_provider, secrets.token_urlsafe(48), login_hint="carol")
    assert authorize(oidc_provider, params).status == 200  # carol is gone: the sign-in page
    oidc_provider.add_user("carol", email="carol@example.com", groups=[])
    assert verify(tokens_for(oidc_provider)["id_token"], oidc_provider)["nonce"] == "nonce-456"


def test_it_logs_requests_without_the_client_secret(oidc_provider: OidcProvider, carol: str) -> None:
    verifier = secrets.token_urlsafe(48)
    exchange(oidc_provider, get_code(oidc_provider, "carol", verifier), verifier, basic=False)
    (authorized,) = oidc_provider.requests("/authorize")
    (token,) = oidc_provider.requests("/token")
    assert authorized["params"]["nonce"] == "nonce-456"
    assert authorized["params"]["code_challenge_method"] == "S256"
    assert token["params"]["code_verifier"] == verifier
    assert "client_secret" not in token["params"]


def test_it_ends_the_session_back_at_a_local_uri(oidc_provider: OidcProvider) -> None:
    back = fetch("GET", f"{oidc_provider.issuer}/logout?post_logout_redirect_uri={REDIRECT_URI}&state=s9")
    assert back.status == 302
    assert back.location == f"{REDIRECT_URI}?state=s9"
    page = fetch("GET", f"{oidc_provider.issuer}/logout?post_logout_redirect_uri=https://evil.example.com/")
    assert page.status == 200
    assert "Signed out" in page.text
