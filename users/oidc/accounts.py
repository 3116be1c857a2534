"""From the identity provider's claims to a console operator and role.

At every sign-in the operator is found by (issuer, subject), created on the first one, and
given the role the groups claim maps to (Operators wins over Viewers); with no mapped group the
sign-in is refused and any role the operator had is taken away. Each role change is audited.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import IntegrityError, transaction
from django.utils import timezone

from users import audit
from users.models import AuditEvent, OperatorIdentity
from users.oidc.provider import SignInFailed
from users.roles import OPERATORS, VIEWERS

OIDC_SIGN_IN = "OidcSignIn"
OIDC_SIGN_IN_REFUSED = "OidcSignInRefused"
ROLE_CHANGED = "OperatorRoleChanged"
_ROLES = (OPERATORS, VIEWERS)
_NOT_IN_USER_NAME = re.compile(r"[^\w.@+-]")
_MAX_GROUPS_KEPT = 50  # in audit rows: the groups an IdP sends may be many


def claim_list(value: Any) -> list[str]:
    """A claim that may be a list of strings or one string (space-separated for amr-like ones)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, str)]
    return []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def role_for(groups: Iterable[str]) -> str | None:
    """The console role the IdP's groups map to: Operators over Viewers, None for neither."""
    names = set(groups)
    if names & set(settings.OIDC_OPERATOR_GROUPS):
        return OPERATORS
    if names & set(settings.OIDC_VIEWER_GROUPS):
        return VIEWERS
    return None


def mfa_at_idp(claims: dict[str, Any]) -> bool:
    """Whether the ID token says the IdP did MFA, as OIDC_MFA_AMR / OIDC_MFA_ACR count it."""
    amr = set(claim_list(claims.get("amr")))
    if amr & set(settings.OIDC_MFA_AMR):
        return True
    acr = claims.get("acr")
    return isinstance(acr, str) and acr in settings.OIDC_MFA_ACR


def current_role(user: User) -> str | None:
    names = set(user.groups.filter(name__in=_ROLES).values_list("name", flat=True))
    return OPERATORS if OPERATORS in names else VIEWERS if VIEWERS in names else None


def sign_in(claims: dict[str, Any]) -> User:
    """The operator these verified claims (ID token, then userinfo) sign in, with their role set.
    The user carries `sign_in_audit` (users/audit.py) and `mfa_at_idp` for the view. Raises
    SignInFailed for an email domain not allowed, no mapped group, or a deactivated account."""
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    email = _text(claims.get("email"))
    groups = claim_list(claims.get(settings.OIDC_GROUPS_CLAIM))
    details = {"issuer": issuer, "subject": subject, "email": email, "groups": groups[:_MAX_GROUPS_KEPT]}
    identity = OperatorIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
    user = identity.user if identity is not None else None
    name = user.get_username() if user is not None else ""

    if not _email_allowed(email, claims.get("email_verified")):
        if user is not None:
            _set_role(user, None, details)
        raise SignInFailed("email_domain", username=name, details=details)
    role = role_for(groups)
    if role is None:
        if user is not None:
            _set_role(user, None, details)
        raise SignInFailed("no_group", username=name, details=details)
    if user is None:
        user, identity = _create(claims, issuer, subject, email)
    if not user.is_active:
        raise SignInFailed("inactive", username=user.get_username(), details=details)
    _update(user, claims, email)
    _set_role(user, role, details)
    OperatorIdentity.objects.filter(user=user).update(last_sign_in_at=timezone.now())

    at_idp = mfa_at_idp(claims)
    user.mfa_at_idp = at_idp  # type: ignore[attr-defined]
    user.sign_in_audit = (  # type: ignore[attr-defined]
        OIDC_SIGN_IN,
        {
            "issuer": issuer,
            "subject": subject,
            "role": role,
            "groups": groups[:_MAX_GROUPS_KEPT],
            "amr": claim_list(claims.get("amr")),
            "mfa": "identity provider" if at_idp else "console",
        },
    )
    return user


def _email_allowed(email: str, verified: Any) -> bool:
    allowed = settings.OIDC_ALLOWED_EMAIL_DOMAINS
    if not allowed:
        return True
    if not email or "@" not in email or verified is False:
        return False
    return email.rpartition("@")[2].lower() in allowed


def _user_name(claims: dict[str, Any], issuer: str, subject: str) -> str:
    """preferred_username, else the email, cut to Django's characters; another name's
    suffix when it is taken (never the local account of that name: no takeover by name)."""
    digest = hashlib.sha256(f"{issuer} {subject}".encode()).hexdigest()[:10]
    base = ""
    for candidate in (claims.get("preferred_username"), claims.get("email")):
        if isinstance(candidate, str) and (base := _NOT_IN_USER_NAME.sub("", candidate)[:150]):
            break
    if not base:
        return f"oidc-{digest}"
    if User.objects.filter(username__iexact=base).exists():
        return f"{base[:139]}-{digest}"
    return base


def _create(claims: dict[str, Any], issuer: str, subject: str, email: str) -> tuple[User, OperatorIdentity]:
    try:
        with transaction.atomic():
            user = User.objects.create_user(_user_name(claims, issuer, subject), email=email)  # unusable password
            identity = OperatorIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    except IntegrityError:
        # The same person's first sign-in in two tabs at once: the other one made the account.
        identity = OperatorIdentity.objects.select_related("user").get(issuer=issuer, subject=subject)
        user = identity.user
    return user, identity


def _update(user: User, claims: dict[str, Any], email: str) -> None:
    """Keep the operator's email and names as the IdP has them."""
    values = {
        "email": email[:254],
        "first_name": _text(claims.get("given_name")),
        "last_name": _text(claims.get("family_name")),
    }
    values = {key: value[:150] for key, value in values.items() if value}
    changed = [key for key, value in values.items() if getattr(user, key) != value]
    for key in changed:
        setattr(user, key, values[key])
    if changed:
        user.save(update_fields=changed)


def _set_role(user: User, role: str | None, details: dict[str, Any]) -> None:
    """Give `user` this role only (None: neither), auditing a change."""
    before = current_role(user)
    if before == role and (role is None or user.groups.filter(name__in=_ROLES).count() == 1):
        return
    user.groups.remove(*Group.objects.filter(name__in=_ROLES).exclude(name=role or ""))
    if role is not None:
        user.groups.add(Group.objects.get(name=role))
    if before != role:
        audit.record(
            operator=user,
            action=ROLE_CHANGED,
            target=user.get_username(),
            parameters={"from": before or "none", "to": role or "none", "by": "identity provider", **details},
            outcome=AuditEvent.Outcome.SUCCESS,
        )
