"""One-time secrets made on the user details page: a new access key, a new console password,
a new virtual MFA device's seed.

Like a job's credentials (users/jobs.py), a secret goes straight into the encrypted one-time
store (users/credentials.py) under a fresh id, for `settings.CREDENTIALS_TTL`; only the
browser session that made it may read it (RELIABILITY.md §2.5 rule 5), and Done deletes it.
The id travels in URLs; the secret never does.

    retrieval_id = keep(request, user_name="arthur", kind=ACCESS_KEY,
                        secret={"access_key_id": ..., "secret_access_key": ...})
    secret = read(request, retrieval_id)   # CredentialsGone once done, expired or not ours
"""

from __future__ import annotations

import uuid
from typing import cast

from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from users import credentials

ACCESS_KEY = "access-key"
PASSWORD = "password"
MFA_SEED = "mfa-seed"  # a virtual MFA device's seed, until the device is assigned
KINDS = (ACCESS_KEY, PASSWORD, MFA_SEED)
SESSION_KEY = "credential_retrievals"
SESSION_KEPT = 20


def _batch(retrieval_id: str) -> str:
    return f"retrieval:{retrieval_id}"


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
    kept = request.session.get(SESSION_KEY, [])
    request.session[SESSION_KEY] = [*kept, retrieval_id][-SESSION_KEPT:]
    return retrieval_id


def read(request: HttpRequest, retrieval_id: str, *, kind: str, user_name: str) -> dict[str, str]:
    """The secret, if this session made it for this user; else `credentials.CredentialsGone`
    (gone, expired, tampered, another session's or another user's: all look the same)."""
    if retrieval_id not in request.session.get(SESSION_KEY, []) or kind not in KINDS:
        raise credentials.CredentialsGone
    operator_id = cast(int, request.user.pk)  # signed in (LoginRequiredMiddleware)
    try:
        secret = credentials.take(batch=_batch(retrieval_id), operator_id=operator_id, item=kind)
    except credentials.NotYours:
        raise credentials.CredentialsGone from None
    if secret.get("user_name") != user_name:
        raise credentials.CredentialsGone
    return secret


def discard(request: HttpRequest, retrieval_id: str) -> None:
    """Done: delete the secret and forget the id. Idempotent."""
    credentials.discard(batch=_batch(retrieval_id), items=KINDS)
    kept = request.session.get(SESSION_KEY, [])
    request.session[SESSION_KEY] = [rid for rid in kept if rid != retrieval_id]
