"""The provider's state and rules, without HTTP: users, authorization codes, access tokens and
the faults the tests ask for. `server.py` translates requests to these methods and back.

One `Provider` serves one confidential client (id and secret set at start). Every method takes
the lock: the server answers on several threads.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .jws import SigningKey, s256

CODE_LIFETIME = 120  # seconds
TOKEN_LIFETIME = 300  # seconds, the access token's and the ID token's
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SCOPES = ("openid", "profile", "email", "groups")
CLAIMS = "iss sub aud exp iat auth_time nonce email email_verified name preferred_username groups amr acr".split()
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")

# The faults a test may ask for, with the type of their value. "state" changes the next
# authorization redirect; the others the next token response. See FAULTS in server.py's doc.
FAULT_TYPES: dict[str, type | tuple[type, ...]] = {
    "state": str,
    "nonce": str,
    "expired": bool,
    "issuer": str,
    "audience": str,
    "bad_signature": bool,
    "unknown_kid": bool,
    "drop_claims": list,
    "token_error": str,
}


class OidcError(Exception):
    """An OAuth error answer: `error` code, description and HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


class AuthorizeError(OidcError):
    """An /authorize error. With `redirect_uri` it goes back to the client as
    ?error=...&state=...; without (unknown client or redirect URI) it is shown to the user."""

    def __init__(self, error: str, description: str, redirect_uri: str | None = None, state: str | None = None) -> None:
        super().__init__(error, description)
        self.redirect_uri = redirect_uri
        self.state = state

    def location(self) -> str:
        assert self.redirect_uri is not None
        params = {"error": self.error, "error_description": self.description}
        if self.state is not None:
            params["state"] = self.state
        return add_query(self.redirect_uri, params)


@dataclass(frozen=True)
class User:
    username: str
    sub: str
    email: str
    email_verified: bool
    name: str
    groups: tuple[str, ...]
    amr: tuple[str, ...] | None
    acr: str | None
    disabled: bool = False

    def claims(self) -> dict[str, object]:
        claims: dict[str, object] = {
            "sub": self.sub,
            "email": self.email,
            "email_verified": self.email_verified,
            "name": self.name,
            "preferred_username": self.username,
            "groups": list(self.groups),
        }
        if self.amr is not None:
            claims["amr"] = list(self.amr)
        if self.acr is not None:
            claims["acr"] = self.acr
        return claims


@dataclass(frozen=True)
class AuthRequest:
    """A checked /authorize request."""

    client_id: str
    redirect_uri: str
    scope: str
    state: str | None
    nonce: str | None
    code_challenge: str


@dataclass
class Grant:
    request: AuthRequest
    username: str
    auth_time: int
    expires: float
    used: bool = False
    access_token: str | None = None


@dataclass
class Provider:
    issuer: str
    client_id: str
    client_secret: str
    key: SigningKey = field(default_factory=lambda: SigningKey.generate("test-idp-1"))
    # Signs the bad_signature and unknown_kid faults: a key the JWKS never publishes.
    other_key: SigningKey = field(default_factory=lambda: SigningKey.generate("test-idp-1"))
    users: dict[str, User] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    faults: dict[str, object] = field(default_factory=dict)
    # The browsers signed in here: their session cookie's value → the user name.
    browser_sessions: dict[str, str] = field(default_factory=dict)
    log: list[dict[str, object]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- metadata -------------------------------------------------------------------------
    def discovery(self) -> dict[str, object]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "end_session_endpoint": f"{self.issuer}/logout",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": list(SCOPES),
            "claims_supported": list(CLAIMS),
        }

    def jwks(self) -> dict[str, object]:
        return {"keys": [self.key.public_jwk()]}

    # -- test control ---------------------------------------------------------------------
    def add_user(self, data: Mapping[str, object]) -> User:
        username = data.get("username")
        if not isinstance(username, str) or not username:
            raise OidcError("invalid_request", "username is required")
        email = data.get("email") or f"{username}@example.com"
        groups = data.get("groups") or []
        amr = data.get("amr")
        acr = data.get("acr")
        sub = data.get("sub") or _stable_sub(username)
        name = data.get("name") or username.title()
        verified = data.get("email_verified", True)
        if not (
            isinstance(email, str)
            and isinstance(groups, list)
            and all(isinstance(g, str) for g in groups)
            and (amr is None or (isinstance(amr, list) and all(isinstance(a, str) for a in amr)))
            and (acr is None or isinstance(acr, str))
            and isinstance(sub, str)
            and isinstance(name, str)
            and isinstance(verified, bool)
        ):
            raise OidcError("invalid_request", "email, sub, name, acr: strings; groups, amr: lists of strings")
        user = User(username, sub, email, verified, name, tuple(groups), None if amr is None else tuple(amr), acr)
        with self.lock:
            self.users[username] = user
        return user

    def disable(self, data: Mapping[str, object]) -> User:
        """Disable a user: no more sign-in, and their browser sessions no longer answer prompt=none."""
        username = data.get("username")
        with self.lock:
            user = self.users.get(username) if isinstance(username, str) else None
            if user is None:
                raise OidcError("invalid_request", f"no user {username!r}")
            self.users[user.username] = replace(user, disabled=True)
        return user

    def set_faults(self, data: Mapping[str, object]) -> None:
        for name, value in data.items():
            expected = FAULT_TYPES.get(name)
            if expected is None:
                raise OidcError("invalid_request", f"unknown fault {name!r}; known: {', '.join(FAULT_TYPES)}")
            if not isinstance(value, expected):
                raise OidcError("invalid_request", f"fault {name!r} takes a {getattr(expected, '__name__', expected)}")
        with self.lock:
            self.faults.update({name: value for name, value in data.items() if value is not False})

    def reset(self) -> None:
        with self.lock:
            self.users.clear()
            self.grants.clear()
            self.tokens.clear()
            self.faults.clear()
            self.browser_sessions.clear()
            self.log.clear()

    def record(self, method: str, path: str, params: Mapping[str, str]) -> None:
        hidden = {"client_secret", "password"}
        with self.lock:
            self.log.append(
                {"method": method, "path": path, "params": {k: v for k, v in params.items() if k not in hidden}}
            )

    # -- /authorize -----------------------------------------------------------------------
    def check_authorize(self, params: Mapping[str, str]) -> AuthRequest:
        """The request's parameters, checked; raises AuthorizeError."""
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        state = params.get("state")
        if client_id != self.client_id:
            raise AuthorizeError("invalid_client", f"Unknown client_id {client_id!r}.")
        if not is_local_uri(redirect_uri):
            raise AuthorizeError("invalid_request", f"redirect_uri {redirect_uri!r} is not a local http(s) URI.")

        def refuse(error: str, description: str) -> AuthorizeError:
            return AuthorizeError(error, description, redirect_uri, state)

        if params.get("response_type") != "code":
            raise refuse("unsupported_response_type", "Only response_type=code is supported.")
        scope = params.get("scope", "")
        if "openid" not in scope.split():
            raise refuse("invalid_scope", "The scope must contain openid.")
        challenge = params.get("code_challenge")
        if not challenge or params.get("code_challenge_method") != "S256":
            raise refuse("invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256.")
        if not _CHALLENGE.fullmatch(challenge):
            raise refuse("invalid_request", "code_challenge is not a base64url SHA-256 digest.")
        return AuthRequest(client_id, redirect_uri, scope, state, params.get("nonce"), challenge)

    def approve(self, request: AuthRequest, username: str) -> str:
        """Issue a code for a known, enabled user; the redirect's URL. Raises KeyError for
        unknown users, PermissionError for disabled ones."""
        with self.lock:
            if username not in self.users:
                raise KeyError(username)
            if self.users[username].disabled:
                raise PermissionError(username)
            code = secrets.token_urlsafe(24)
            self.grants[code] = Grant(request, username, int(time.time()), time.monotonic() + CODE_LIFETIME)
            state = self.faults.pop("state", request.state)
        params = {"code": code}
        if state is not None:
            params["state"] = str(state)
        return add_query(request.redirect_uri, params)

    def start_session(self, username: str) -> str:
        """A browser session for a user who just signed in on the page: the cookie's value."""
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.browser_sessions[token] = username
        return token

    def silent(self, request: AuthRequest, session: str | None) -> str:
        """prompt=none (OIDC Core 3.1.2.1): a code at once for the enabled user of this browser
        session, else error=login_required; the redirect's URL."""
        with self.lock:
            username = self.browser_sessions.get(session or "", "")
        try:
            return self.approve(request, username)
        except (KeyError, PermissionError):
            params = {"error": "login_required", "error_description": "The user is not signed in here."}
            if request.state is not None:
                params["state"] = request.state
            return add_query(request.redirect_uri, params)

    def deny(self, request: AuthRequest) -> str:
        params = {"error": "access_denied", "error_description": "The user cancelled the sign-in."}
        if request.state is not None:
            params["state"] = request.state
        return add_query(request.redirect_uri, params)

    # -- /token ---------------------------------------------------------------------------
    def token(self, form: Mapping[str, str], authorization: str | None) -> dict[str, object]:
        """The token response for an authorization_code grant; raises OidcError."""
        self._authenticate(form, authorization)
        if form.get("grant_type") != "authorization_code":
            raise OidcError("unsupported_grant_type", "Only grant_type=authorization_code is supported.")
        with self.lock:
            grant = self.grants.get(form.get("code", ""))
            if grant is None:
                raise OidcError("invalid_grant", "Unknown authorization code.")
            if grant.used:
                # RFC 6749 4.1.2: a code used twice revokes what it gave.
                if grant.access_token:
                    self.tokens.pop(grant.access_token, None)
                raise OidcError("invalid_grant", "The authorization code was already used.")
            grant.used = True
            if time.monotonic() > grant.expires:
                raise OidcError("invalid_grant", "The authorization code expired.")
            if form.get("redirect_uri") != grant.request.redirect_uri:
                raise OidcError("invalid_grant", "redirect_uri differs from the authorization request's.")
            verifier = form.get("code_verifier", "")
            if not _VERIFIER.fullmatch(verifier) or s256(verifier) != grant.request.code_challenge:
                raise OidcError("invalid_grant", "The PKCE code_verifier does not match the code_challenge.")
            user = self.users.get(grant.username)
            if user is None:
                raise OidcError("invalid_grant", "The user no longer exists.")
            faults = {name: self.faults.pop(name) for name in list(self.faults) if name != "state"}
            if "token_error" in faults:
                raise OidcError(str(faults["token_error"]), "Injected by the test (token_error fault).")
            access_token = secrets.token_urlsafe(32)
            self.tokens[access_token] = (user.username, time.monotonic() + TOKEN_LIFETIME)
            grant.access_token = access_token
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME,
            "scope": grant.request.scope,
            "id_token": self._id_token(user, grant, faults),
        }

    def _authenticate(self, form: Mapping[str, str], authorization: str | None) -> None:
        basic = authorization is not None and authorization[:6].lower() == "basic "
        posted = "client_secret" in form
        if basic and posted:
            raise OidcError("invalid_request", "Use one client authentication method, not two.")
        if basic:
            assert authorization is not None
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
            except ValueError:
                raise OidcError("invalid_client", "Malformed Basic credentials.", 401) from None
            client_id, _, secret = decoded.partition(":")
            client_id, secret = urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if not (
            secrets.compare_digest(client_id.encode(), self.client_id.encode())
            and secrets.compare_digest(secret.encode(), self.client_secret.encode())
        ):
            raise OidcError("invalid_client", "Client authentication failed.", 401)

    def _id_token(self, user: User, grant: Grant, faults: Mapping[str, object]) -> str:
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + TOKEN_LIFETIME,
            "auth_time": grant.auth_time,
            **user.claims(),
        }
        if grant.request.nonce is not None:
            claims["nonce"] = grant.request.nonce
        if "nonce" in faults:
            claims["nonce"] = faults["nonce"]
        if faults.get("expired"):
            claims.update(iat=now - 3600, exp=now - 1800, auth_time=now - 3600)
        if "issuer" in faults:
            claims["iss"] = faults["issuer"]
        if "audience" in faults:
            claims["aud"] = faults["audience"]
        dropped = faults.get("drop_claims")
        for name in dropped if isinstance(dropped, list) else []:
            claims.pop(str(name), None)
        if faults.get("unknown_kid"):
            return self.other_key.sign(claims, kid="not-in-the-jwks")
        if faults.get("bad_signature"):
            return self.other_key.sign(claims, kid=self.key.kid)
        return self.key.sign(claims)

    # -- /userinfo ------------------------------------------------------------------------
    def userinfo(self, authorization: str | None) -> dict[str, object]:
        if authorization is None or authorization[:7].lower() != "bearer ":
            raise OidcError("invalid_token", "A Bearer access token is required.", 401)
        with self.lock:
            username, expires = self.tokens.get(authorization[7:].strip(), ("", 0.0))
            user = self.users.get(username)
        if user is None or time.monotonic() > expires:
            raise OidcError("invalid_token", "The access token is unknown or expired.", 401)
        return user.claims()


def is_local_uri(uri: str) -> bool:
    """An http(s) URI on this machine (127.0.0.1, localhost, ::1), without a fragment."""
    try:
        parts = urllib.parse.urlsplit(uri)
        return parts.scheme in ("http", "https") and parts.hostname in LOCAL_HOSTS and not parts.fragment
    except ValueError:
        return False


def add_query(uri: str, params: Mapping[str, str]) -> str:
    parts = urllib.parse.urlsplit(uri)
    query = "&".join(q for q in (parts.query, urllib.parse.urlencode(params)) if q)
    return urllib.parse.urlunsplit(parts._replace(query=query))


def _stable_sub(username: str) -> str:
    """The same subject for the same user name, across resets and restarts."""
    return "sub-" + hashlib.sha256(username.encode("utf-8")).hexdigest()[:20]
