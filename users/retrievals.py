"""One-time secrets made on the user details page: a new access key, a new console password,
a new virtual MFA device's seed, a created signing certificate's private key, a new
service-specific credential's password (HTTPS Git, Keyspaces).

Like a job's credentials (users/jobs.py), a secret goes straight into the encrypted one-time
store (users/credentials.py) under a fresh id, for `settings.CREDENTIALS_TTL`; only the
browser session that made it may read it or end it (RELIABILITY.md S4), and Done deletes it.
The id travels in URLs; the secret never does. The session holds the id, the kind and the IAM
user name of each secret it made (never a value), so that it can tell its own ended secrets
(410) from ids it never made (404).

Every retrieval event is audited (target the IAM user name, parameters the kind and the id,
never a value): `SHOW` (a page showed it), `DOWNLOAD_CSV`, `DOWNLOAD_KEY`,
`DOWNLOAD_CREDENTIALS_FILE` (a new access key as a `~/.aws/credentials` snippet), `DISCARD` (Done,
Cancel, or the MFA device assigned; state "retrieved", or "expired" if it was gone by then) and
`EXPIRED` (outcome failure: the session found it gone before Done; recorded once).

    retrieval_id = keep(request, user_name="arthur", kind=ACCESS_KEY,
                        secret={"access_key_id": ..., "secret_access_key": ...})
    secret = read(request, retrieval_id, kind=ACCESS_KEY, user_name="arthur", action=SHOW)
    finish(request, retrieval_id, kind=ACCESS_KEY, user_name="arthur")   # Done
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, TypedDict, cast

from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from users import audit, credentials
from users.models import AuditEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ACCESS_KEY = "access-key"
PASSWORD = "password"
MFA_SEED = "mfa-seed"  # a virtual MFA device's seed, until the device is assigned
SIGNING_CERTIFICATE = "signing-certificate"  # a created certificate and its private key
SERVICE_CREDENTIAL = "service-credential"  # a generated or reset HTTPS Git or Keyspaces password
KINDS = (ACCESS_KEY, PASSWORD, MFA_SEED, SIGNING_CERTIFICATE, SERVICE_CREDENTIAL)
SESSION_KEY = "secret_retrievals"
SESSION_KEPT = 20

# The audit trail's actions for a secret's life after it was made.
SHOW = "ShowSecret"
DOWNLOAD_CSV = "DownloadSecretCsv"
DOWNLOAD_KEY = "DownloadPrivateKey"  # a created signing certificate's private key, as .pem
DOWNLOAD_CREDENTIALS_FILE = "DownloadCredentialsFile"  # access keys as a ~/.aws/credentials snippet
DISCARD = "DiscardSecret"
EXPIRED = "SecretExpired"

PENDING, FOUND_EXPIRED, DONE = "pending", "expired", "done"  # a binding's states


class _Binding(TypedDict):
    kind: str
    user_name: str
    state: str


def _batch(retrieval_id: str) -> str:
    return f"retrieval:{retrieval_id}"


def _bindings(request: HttpRequest) -> dict[str, _Binding]:
    kept = request.session.get(SESSION_KEY, {})
    return cast(dict[str, _Binding], kept) if isinstance(kept, dict) else {}


def _own(request: HttpRequest, retrieval_id: str, *, kind: str, user_name: str) -> _Binding:
    """This session's binding of the secret, or `credentials.NotYours` (answer 404): another
    operator's, another session's, or this session's id under another user or kind."""
    binding = _bindings(request).get(retrieval_id)
    if binding is None or (binding["kind"], binding["user_name"]) != (kind, user_name):
        raise credentials.NotYours
    return binding


def _set_state(request: HttpRequest, retrieval_id: str, state: str) -> None:
    bindings = _bindings(request)
    bindings[retrieval_id] = {**bindings[retrieval_id], "state": state}
    request.session[SESSION_KEY] = bindings


def _record(request: HttpRequest, action: str, retrieval_id: str, binding: _Binding, **extra: str) -> None:
    failed = action == EXPIRED
    audit.record(
        operator=cast("User", request.user),  # signed in (LoginRequiredMiddleware)
        action=action,
        target=binding["user_name"],
        parameters={"kind": binding["kind"], "retrieval_id": retrieval_id, **extra},
        outcome=AuditEvent.Outcome.FAILURE if failed else AuditEvent.Outcome.SUCCESS,
    )


@sensitive_variables("secret")
def keep(request: HttpRequest, *, user_name: str, kind: str, secret: dict[str, str]) -> str:
    """Store `secret` for this operator and bind it to this session; the retrieval's id."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    retrieval_id = uuid.uuid4().hex
    credentials.put(
        batch=_batch(retrieval_id),
        operator_id=cast(int, request.user.pk),  # signed in (LoginRequiredMiddleware)
        item=kind,
        secret={**secret, "user_name": user_name},
    )
    kept = list(_bindings(request).items())[-(SESSION_KEPT - 1) :]
    request.session[SESSION_KEY] = dict(
        [*kept, (retrieval_id, {"kind": kind, "user_name": user_name, "state": PENDING})]
    )
    return retrieval_id


@sensitive_variables("secret")
def read(
    request: HttpRequest, retrieval_id: str, *, kind: str, user_name: str, action: str | None = None
) -> dict[str, str]:
    """The secret, if this session made it for this user, and `action` (`SHOW`,
    `DOWNLOAD_CSV`) audited if given. Else `credentials.NotYours` (404) when this session did
    not make it, `credentials.CredentialsGone` (410) when it is done or expired (the first time
    it is found expired, that is audited)."""
    binding = _own(request, retrieval_id, kind=kind, user_name=user_name)
    if binding["state"] != PENDING:
        raise credentials.CredentialsGone
    secret = _take(request, retrieval_id, binding)
    if secret is None:
        _found_expired(request, retrieval_id, binding)
        raise credentials.CredentialsGone
    if action is not None:
        _record(request, action, retrieval_id, binding)
    return secret


def shown(request: HttpRequest, retrieval_id: str, *, kind: str, user_name: str) -> None:
    """Audit `SHOW` for a secret `read` gave this session, when the page shows it."""
    _record(request, SHOW, retrieval_id, _own(request, retrieval_id, kind=kind, user_name=user_name))


def finish(request: HttpRequest, retrieval_id: str, *, kind: str, user_name: str) -> None:
    """Done (or Cancel, or the MFA device assigned): delete the secret and audit `DISCARD`,
    state "retrieved", or "expired" when it was already gone (then `EXPIRED` too, if this is
    how the session learns it). `credentials.NotYours` (404) when this session did not make
    it; nothing happens after the first Done."""
    binding = _own(request, retrieval_id, kind=kind, user_name=user_name)
    if binding["state"] == DONE:
        return
    found = binding["state"] == PENDING and _take(request, retrieval_id, binding) is not None
    if binding["state"] == PENDING and not found:
        _found_expired(request, retrieval_id, binding)
    credentials.discard(batch=_batch(retrieval_id), items=[kind])
    _set_state(request, retrieval_id, DONE)
    _record(request, DISCARD, retrieval_id, binding, state="retrieved" if found else "expired")


def _found_expired(request: HttpRequest, retrieval_id: str, binding: _Binding) -> None:
    _set_state(request, retrieval_id, FOUND_EXPIRED)
    _record(request, EXPIRED, retrieval_id, binding)


def withdraw(request: HttpRequest, retrieval_id: str) -> None:
    """The secret was never shown (IAM refused the change that made it): delete it and forget
    the id, unaudited (the gateway audited the failed call)."""
    credentials.discard(batch=_batch(retrieval_id), items=KINDS)
    request.session[SESSION_KEY] = {rid: b for rid, b in _bindings(request).items() if rid != retrieval_id}


@sensitive_variables("secret")
def _take(request: HttpRequest, retrieval_id: str, binding: _Binding) -> dict[str, str] | None:
    """The stored secret, or None once it is gone (expired, discarded, tampered with)."""
    operator_id = cast(int, request.user.pk)
    try:
        secret = credentials.take(batch=_batch(retrieval_id), operator_id=operator_id, item=binding["kind"])
    except credentials.CredentialsGone:
        return None
    return secret if secret.get("user_name") == binding["user_name"] else None
