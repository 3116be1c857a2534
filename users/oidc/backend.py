"""Authentication backends: the password one (off with LOCAL_SIGN_IN=false) and the
identity provider's, mozilla-django-oidc's with the checks it lacks.

mozilla-django-oidc exchanges the code (with the PKCE verifier) and checks the ID token's
signature against the IdP's JWKS, its expiry and the nonce; it leaves out the audience and the
issuer. `OidcBackend.verify_token` checks them all, with PyJWT, and names what failed.
"""

from __future__ import annotations

from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from users.oidc import accounts
from users.oidc.provider import LEEWAY, SIGNING_ALGORITHMS, SignInFailed, library_setting, local_sign_in, provider

BACKEND_PATH = "users.oidc.backend.OidcBackend"


class PasswordBackend(ModelBackend):
    """Django's user name and password, refused while LOCAL_SIGN_IN is off (the admin's sign-in too)."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        if not local_sign_in():
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class OidcBackend(OIDCAuthenticationBackend):  # type: ignore[misc]
    """Signs in the operator of an OIDC callback (the view passes `nonce`); None for anything else.
    Failures raise SignInFailed (not PermissionDenied: no failed-password count, no lockout)."""

    get_settings = staticmethod(library_setting)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Built for every request of a signed-in operator (get_user): nothing read here, the
        # endpoints come from discovery when a sign-in needs them.
        self.UserModel = User

    # The library's attribute names, read from discovery when used.
    @property
    def OIDC_OP_TOKEN_ENDPOINT(self) -> str:
        return provider().token_endpoint

    @property
    def OIDC_OP_USER_ENDPOINT(self) -> str:
        return provider().userinfo_endpoint

    @property
    def OIDC_OP_JWKS_ENDPOINT(self) -> str:
        return provider().jwks_uri

    @property
    def OIDC_RP_CLIENT_ID(self) -> str:
        return str(settings.OIDC_CLIENT_ID)

    @property
    def OIDC_RP_CLIENT_SECRET(self) -> str:
        return str(settings.OIDC_CLIENT_SECRET)

    OIDC_RP_SIGN_ALGO = SIGNING_ALGORITHMS[0]
    OIDC_RP_IDP_SIGN_KEY = None

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> User | None:
        if request is None or "nonce" not in kwargs or not settings.OIDC_ISSUER:
            return None
        try:
            return super().authenticate(request, **kwargs)  # type: ignore[no-any-return]
        except requests.HTTPError as error:
            status = error.response.status_code if error.response is not None else 0
            if 400 <= status < 500:
                raise SignInFailed("token_error", details={"status": status}) from error
            raise SignInFailed("unreachable", details={"status": status}) from error
        except requests.RequestException as error:
            raise SignInFailed("unreachable", details={"error": type(error).__name__}) from error

    def get_token(self, payload: dict[str, Any]) -> dict[str, Any]:
        if not payload.get("client_secret"):
            payload.pop("client_secret", None)  # a public client: PKCE alone
        token = super().get_token(payload)
        if not isinstance(token, dict):
            raise SignInFailed("token_error")
        return token

    def verify_token(self, token: Any, **kwargs: Any) -> dict[str, Any]:
        """The ID token's claims once its signature (JWKS, RS256), issuer, audience, expiry and
        nonce hold; SignInFailed naming the first that does not."""
        if not isinstance(token, str) or not token:
            raise SignInFailed("invalid_token")
        issuer = provider().issuer
        try:
            key = self.retrieve_matching_jwk(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=SIGNING_ALGORITHMS,
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as error:
            raise _refused("expired", token) from error
        except (jwt.InvalidIssuerError, jwt.MissingRequiredClaimError) as error:
            reason = "issuer" if isinstance(error, jwt.InvalidIssuerError) or "iss" in str(error) else "invalid_token"
            raise _refused(reason, token) from error
        except jwt.InvalidAudienceError as error:
            raise _refused("audience", token) from error
        except (jwt.InvalidSignatureError, SuspiciousOperation) as error:
            raise _refused("signature", token) from error
        except (jwt.InvalidTokenError, jwt.PyJWKError, KeyError, ValueError) as error:
            raise _refused("invalid_token", token) from error
        # Several audiences: the token must be meant for this console (OIDC Core 3.1.3.7).
        audience = claims.get("aud")
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise _refused("audience", token)
        if "nonce" in kwargs and (kwargs["nonce"] is None or claims.get("nonce") != kwargs["nonce"]):
            # Signed by the IdP for this console, but for another sign-in (a replayed token).
            raise SignInFailed("nonce", details={"issuer": issuer, "subject": str(claims["sub"])[:255]})
        return claims

    def get_or_create_user(self, access_token: str | None, id_token: str, payload: dict[str, Any]) -> User:
        """The operator of these claims: the ID token's, completed by userinfo's for the same subject."""
        claims = dict(payload)
        if access_token and provider().userinfo_endpoint:
            info = self.get_userinfo(access_token, id_token, payload)
            if isinstance(info, dict) and info.get("sub") == payload.get("sub"):
                claims = {**info, **payload}
        return accounts.sign_in(claims)

    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> Any:
        response = requests.get(
            self.OIDC_OP_USER_ENDPOINT,
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=self.get_settings("OIDC_TIMEOUT"),
        )
        response.raise_for_status()
        if response.headers.get("content-type", "").lower().startswith("application/jwt"):
            return None  # a signed userinfo: the ID token's claims suffice
        return response.json()


def _refused(reason: str, token: str) -> SignInFailed:
    """A token refused for `reason`, with the subject and issuer it claims (unverified: kept
    for the audit trail only, under names that say so)."""
    try:
        claimed = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return SignInFailed(reason)
    if not isinstance(claimed, dict):
        return SignInFailed(reason)
    details = {
        f"unverified_{name}": str(claimed[name])[:255] for name in ("sub", "iss") if isinstance(claimed.get(name), str)
    }
    return SignInFailed(reason, details=details)
