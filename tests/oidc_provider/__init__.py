"""A small OpenID Connect provider for the tests (issue 18): discovery, JWKS, RS256 ID tokens,
the authorization code flow with PKCE (S256 only), userinfo, and a test-control API that adds
users and makes the next answer misbehave (wrong nonce, expired token, another issuer, ...).

It runs in its own process (`python -m tests.oidc_provider.server --port 0`), standard library
and `cryptography` only; `fixtures.py` starts it once per session for pytest (`oidc_provider`).
"""
