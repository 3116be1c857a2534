"""The one-time secret store: new console passwords and secret access keys, between the
step that creates them and the operator's retrieve page and CSV (RELIABILITY.md §2.5).

Guarantees:
- **Encrypted.** Only Fernet ciphertext (AES-128-CBC + HMAC-SHA256) reaches the cache
  (Redis in production). The keys are derived from `settings.CREDENTIALS_KEYS`, which live in
  the environment or the state directory, never in the cache or the database.
- **Expiring.** Every entry has a TTL (at most `MAX_TTL`; `expire` can shorten it later), and
  the expiry is also sealed into the ciphertext, so an entry a cache failed to expire is refused.
- **Operator-bound.** The creating operator's id, the batch and the item are sealed into the
  ciphertext: another operator gets `NotYours`, a value moved to another key `CredentialsGone`.
- **Add-only.** `put` never replaces a stored value (`SET NX`): a retried task cannot change a
  secret that may already have been shown.

Nothing here logs, and no exception carries a secret.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import cast

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured

# RELIABILITY.md §2.5: 15 minutes from job completion, capped at 60 minutes from creation.
MAX_TTL = 60 * 60
_HKDF_INFO = b"iamconsole credentials"


class CredentialsGone(Exception):
    """Expired, discarded, never stored, or unreadable (tampered, unknown key): answer 410."""


class NotYours(Exception):
    """Stored by another operator: answer 404."""


def put(*, batch: str, operator_id: int, item: str, secret: Mapping[str, str], ttl: int | None = None) -> bool:
    """Encrypt `secret` (e.g. {"password": …}) for `operator_id` and keep it for `ttl` seconds
    (default `settings.CREDENTIALS_TTL`); whether it was kept.

    Add-only: if (batch, item) already holds a value, it is kept and this call does nothing
    (False), so a task retried after it stored its secret is safe.
    """
    ttl = settings.CREDENTIALS_TTL if ttl is None else ttl
    if not 0 < ttl <= MAX_TTL:
        raise ValueError(f"ttl must be in (0, {MAX_TTL}] seconds")
    payload = {
        "op": operator_id,
        "batch": batch,
        "item": item,
        "exp": time.time() + ttl,
        "secret": dict(secret),
    }
    token = _fernet().encrypt(json.dumps(payload).encode()).decode("ascii")
    return bool(caches["default"].add(_cache_key(batch, item), token, timeout=ttl))


def check_available() -> None:
    """Raise the cache's error (iamconsole.cache_outage.UNAVAILABLE) unless the store answers a
    read: before an IAM call that makes a secret, so that a store that is down stops it there
    rather than after IAM made a secret nobody could keep."""
    caches["default"].get("credentials:probe")


def take(*, batch: str, operator_id: int, item: str) -> dict[str, str]:
    """The secret stored for (batch, item), for its operator only. The value stays stored
    (the page and the CSV may both read it) until `discard` or expiry."""
    token = caches["default"].get(_cache_key(batch, item))
    return _open(token, _fernet(), batch=batch, operator_id=operator_id, item=item)


def take_batch(*, batch: str, operator_id: int, items: Iterable[str]) -> dict[str, dict[str, str]]:
    """The secrets of several items in one cache round trip, by item; gone ones are omitted.
    Raises `NotYours` if any of them belongs to another operator."""
    keys = {_cache_key(batch, item): item for item in items}
    found = caches["default"].get_many(list(keys))
    fernet = _fernet()
    secrets: dict[str, dict[str, str]] = {}
    for key, token in found.items():
        item = keys[key]
        try:
            secrets[item] = _open(token, fernet, batch=batch, operator_id=operator_id, item=item)
        except CredentialsGone:
            continue
    return secrets


def expire(*, batch: str, items: Iterable[str], ttl: int) -> None:
    """Let the secrets of these items live `ttl` more seconds (a finished job's 15 minutes),
    never past the expiry sealed into them at `put`. Items not stored are skipped."""
    store = caches["default"]
    for item in items:
        store.touch(_cache_key(batch, item), ttl)


def discard(*, batch: str, items: Iterable[str]) -> None:
    """Delete the secrets of these items (the operator pressed Close). Idempotent."""
    caches["default"].delete_many([_cache_key(batch, item) for item in items])


def seal(value: str) -> str:
    """An opaque, authenticated token for `value` (a custom password typed in the wizard), to
    keep in the session instead of the value. Only `unseal` opens it."""
    return _fernet().encrypt(json.dumps({"sealed": value}).encode()).decode("ascii")


def unseal(token: str, max_age: int) -> str:
    """The value `seal` returned `token` for, if it was sealed at most `max_age` seconds ago.
    Raises `CredentialsGone` when it is older, tampered with, or not a sealed value."""
    if not isinstance(token, str):
        raise CredentialsGone
    try:
        value = json.loads(_fernet().decrypt(token.encode("ascii"), ttl=max_age))["sealed"]
    except (InvalidToken, ValueError, TypeError, KeyError):
        raise CredentialsGone from None
    if not isinstance(value, str):
        raise CredentialsGone
    return value


def _open(token: object, fernet: MultiFernet, *, batch: str, operator_id: int, item: str) -> dict[str, str]:
    if not isinstance(token, str):
        raise CredentialsGone
    # `from None`: no decrypted text may ride along in an exception's context.
    try:
        payload = json.loads(fernet.decrypt(token.encode("ascii")))
        readable = (
            (payload["batch"], payload["item"]) == (batch, item)
            and isinstance(payload["secret"], dict)
            and time.time() < payload["exp"]
        )
    except (InvalidToken, ValueError, TypeError, KeyError):
        raise CredentialsGone from None
    if not readable:
        raise CredentialsGone
    if payload["op"] != operator_id:
        raise NotYours
    return cast(dict[str, str], payload["secret"])


def _cache_key(batch: str, item: str) -> str:
    # Hashed: batch and item may hold any characters (":" included) without two pairs ever
    # sharing a key. The operator is not part of the key, so that a foreign operator gets
    # NotYours (404), not CredentialsGone (410); it is sealed into the value instead.
    digest = hashlib.sha256(json.dumps([batch, item]).encode()).hexdigest()
    return f"credentials:{digest}"


def _fernet() -> MultiFernet:
    keys = getattr(settings, "CREDENTIALS_KEYS", None)
    if not keys or not all(keys):
        raise ImproperlyConfigured("CREDENTIALS_KEYS must list at least one non-empty secret")
    return _multifernet(tuple(keys))


@lru_cache(maxsize=4)
def _multifernet(secrets: tuple[str, ...]) -> MultiFernet:
    # HKDF turns any secret string (e.g. a token_urlsafe from envsecret) into a Fernet key,
    # with a label of its own so the same secret used elsewhere gives an unrelated key.
    return MultiFernet([Fernet(_derive(secret)) for secret in secrets])


def _derive(secret: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode()))
