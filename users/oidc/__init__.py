"""Operators' sign-in at the company's identity provider, with OpenID Connect (issue 18).

mozilla-django-oidc runs the authorization code flow (state, nonce, PKCE); this package feeds
it the endpoints of the issuer's discovery document (`provider`), verifies the ID token fully
(`backend`), and turns the IdP's claims into a console operator and role (`accounts`).
"""
