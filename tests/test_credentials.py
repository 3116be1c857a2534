"""The one-time secret store (users/credentials.py; RELIABILITY.md §2.5, checks S2–S4)."""

from __future__ import annotations

import base64
import time
import urllib.parse
from collections.abc import Callable, Iterator

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from users import credentials
from users.credentials import CredentialsGone, NotYours

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PASSWORD = "p@ss=w0rd+Ünïcode"
ALICE, BOB = 1, 2


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    caches["default"].clear()
    yield
    caches["default"].clear()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    """Moves time.time() forward, for the cache, Fernet and the store alike."""
    offset = [0.0]
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + offset[0])

    def advance(seconds: float) -> None:
        offset[0] += seconds

    return advance


def _put(item: str = "alice", secret: dict[str, str] | None = None, ttl: int | None = None) -> None:
    secret = secret or {"secret_access_key": SECRET, "password": PASSWORD}
    credentials.put(batch="b1", operator_id=ALICE, item=item, secret=secret, ttl=ttl)


def _raw_cache() -> bytes:
    """Everything the LocMem cache holds: its keys and its pickled values."""
    entries = caches["default"]._cache.items()  # type: ignore[attr-defined]
    return b"".join(key.encode() + value for key, value in entries)


def _forms(value: str) -> list[bytes]:
    """A value as a canary scan looks for it: raw, base64 (both alphabets), URL-encoded."""
    raw = value.encode()
    return [
        raw,
        base64.b64encode(raw),
        base64.urlsafe_b64encode(raw),
        urllib.parse.quote(value, safe="").encode(),
        urllib.parse.quote_plus(value).encode(),
    ]


def test_it_returns_what_was_put() -> None:
    _put()
    secret = credentials.take(batch="b1", operator_id=ALICE, item="alice")
    assert secret == {"secret_access_key": SECRET, "password": PASSWORD}


@given(st.dictionaries(st.text(max_size=20), st.text(max_size=80), min_size=1, max_size=4))
def test_it_round_trips_any_small_secret(secret: dict[str, str]) -> None:
    caches["default"].clear()
    credentials.put(batch="b", operator_id=ALICE, item="x", secret=secret)
    assert credentials.take(batch="b", operator_id=ALICE, item="x") == secret


def test_it_stores_no_plaintext() -> None:
    _put()
    raw = _raw_cache()
    assert raw
    for value in (SECRET, PASSWORD, "secret_access_key", "alice"):
        for form in _forms(value):
            assert form not in raw, (value, form)


@override_settings(CREDENTIALS_KEYS=["the-configured-key"])
def test_it_stores_neither_the_key_nor_the_derived_key() -> None:
    _put()
    raw = _raw_cache()
    derived = credentials._derive("the-configured-key")
    for form in [*_forms("the-configured-key"), derived, base64.urlsafe_b64decode(derived)]:
        assert form not in raw


@override_settings(CREDENTIALS_KEYS=["any string at all"])
def test_it_derives_the_fernet_key_from_the_setting_with_hkdf() -> None:
    # Pinned: web and worker (and the next release) must derive the same key from one setting.
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"iamconsole credentials")
    fernet = Fernet(base64.urlsafe_b64encode(hkdf.derive(b"any string at all")))
    assert fernet.decrypt(credentials.seal("hello").encode()) == b'{"sealed": "hello"}'


def test_it_expires_the_cache_entry_within_the_ttl(clock: Callable[[float], None]) -> None:
    _put()
    cache = caches["default"]
    key = cache.make_key(credentials._cache_key("b1", "alice"))
    expires = cache._expire_info[key]  # type: ignore[attr-defined]
    assert 0 < expires - time.time() <= 900
    clock(901)
    with pytest.raises(CredentialsGone):
        credentials.take(batch="b1", operator_id=ALICE, item="alice")


def test_it_honours_a_short_ttl(clock: Callable[[float], None]) -> None:
    _put(ttl=5)
    clock(4)
    assert credentials.take(batch="b1", operator_id=ALICE, item="alice")
    clock(2)
    with pytest.raises(CredentialsGone):
        credentials.take(batch="b1", operator_id=ALICE, item="alice")


def test_it_refuses_an_expired_value_the_cache_kept(clock: Callable[[float], None]) -> None:
    _put(ttl=5)
    key = credentials._cache_key("b1", "alice")
    caches["default"].set(key, caches["default"].get(key), timeout=None)
    clock(6)
    with pytest.raises(CredentialsGone):
        credentials.take(batch="b1", operator_id=ALICE, item="alice")


@pytest.mark.parametrize("ttl", [0, -1, credentials.MAX_TTL + 1])
def test_it_refuses_a_ttl_outside_the_bounds(ttl: int) -> None:
    with pytest.raises(ValueError):
        _put(ttl=ttl)
    assert caches["default"].get(credentials._cache_key("b1", "alice")) is None


def test_it_never_replaces_a_stored_secret() -> None:
    _put(secret={"secret_access_key": "first"})
    _put(secret={"secret_access_key": "second"})
    secret = credentials.take(batch="b1", operator_id=ALICE, item="alice")
    assert secret == {"secret_access_key": "first"}


def test_it_keeps_the_secret_for_a_second_read() -> None:
    _put()
    first = credentials.take(batch="b1", operator_id=ALICE, item="alice")
    assert credentials.take(batch="b1", operator_id=ALICE, item="alice") == first


def test_it_refuses_another_operator() -> None:
    _put()
    with pytest.raises(NotYours):
        credentials.take(batch="b1", operator_id=BOB, item="alice")
    with pytest.raises(NotYours):
        credentials.take_batch(batch="b1", operator_id=BOB, items=["alice"])


def test_it_says_gone_for_what_was_never_stored() -> None:
    with pytest.raises(CredentialsGone):
        credentials.take(batch="b1", operator_id=ALICE, item="nobody")


def test_it_keeps_batches_and_items_apart() -> None:
    # "a:b"/"c" and "a"/"b:c" must not share a key.
    credentials.put(batch="a:b", operator_id=ALICE, item="c", secret={"password": "one"})
    credentials.put(batch="a", operator_id=ALICE, item="b:c", secret={"password": "two"})
    assert credentials.take(batch="a:b", operator_id=ALICE, item="c") == {"password": "one"}
    assert credentials.take(batch="a", operator_id=ALICE, item="b:c") == {"password": "two"}


def test_it_says_gone_for_tampered_ciphertext() -> None:
    _put()
    key = credentials._cache_key("b1", "alice")
    token = bytearray(base64.urlsafe_b64decode(caches["default"].get(key)))
    token[40] ^= 0x01  # one bit of the AES ciphertext; the HMAC no longer matches
    caches["default"].set(key, base64.urlsafe_b64encode(bytes(token)).decode())
    with pytest.raises(CredentialsGone) as excinfo:
        credentials.take(batch="b1", operator_id=ALICE, item="alice")
    assert excinfo.value.__suppress_context__


@pytest.mark.parametrize("junk", ["", "not a token", "é", b"bytes", 42, {"password": "x"}])
def test_it_says_gone_for_junk_in_the_cache(junk: object) -> None:
    caches["default"].set(credentials._cache_key("b1", "alice"), junk)
    with pytest.raises(CredentialsGone):
        credentials.take(batch="b1", operator_id=ALICE, item="alice")


def test_it_says_gone_for_a_value_moved_to_another_item() -> None:
    _put(item="alice")
    token = caches["default"].get(credentials._cache_key("b1", "alice"))
    caches["default"].set(credentials._cache_key("b1", "mallory"), token)
    with pytest.raises(CredentialsGone):
        credentials.take(batch="b1", operator_id=ALICE, item="mallory")


def test_it_says_gone_after_discard_and_discards_twice() -> None:
    _put(item="alice")
    _put(item="bob")
    credentials.discard(batch="b1", items=["alice", "bob", "never-stored"])
    credentials.discard(batch="b1", items=["alice", "bob"])
    for item in ("alice", "bob"):
        with pytest.raises(CredentialsGone):
            credentials.take(batch="b1", operator_id=ALICE, item=item)
    assert _raw_cache() == b""


def test_it_takes_a_batch_and_omits_what_is_gone() -> None:
    _put(item="alice", secret={"password": "a"})
    _put(item="bob", secret={"secret_access_key": "b"})
    _put(item="carol", secret={"password": "c"})
    caches["default"].set(credentials._cache_key("b1", "carol"), "tampered")
    items = ["alice", "bob", "carol", "dave"]
    found = credentials.take_batch(batch="b1", operator_id=ALICE, items=items)
    assert found == {"alice": {"password": "a"}, "bob": {"secret_access_key": "b"}}


def test_it_reads_old_values_during_a_key_rotation() -> None:
    def take(item: str) -> dict[str, str]:
        return credentials.take(batch="b1", operator_id=ALICE, item=item)

    with override_settings(CREDENTIALS_KEYS=["old key"]):
        _put(item="before")
    with override_settings(CREDENTIALS_KEYS=["new key"]), pytest.raises(CredentialsGone):
        take("before")
    with override_settings(CREDENTIALS_KEYS=["new key", "old key"]):
        assert take("before")["secret_access_key"] == SECRET
        _put(item="after")
    with override_settings(CREDENTIALS_KEYS=["new key"]):
        assert take("after")["secret_access_key"] == SECRET


@pytest.mark.parametrize("keys", [[], [""], ["new key", ""]])
def test_it_refuses_to_work_without_a_key(keys: list[str]) -> None:
    with override_settings(CREDENTIALS_KEYS=keys), pytest.raises(ImproperlyConfigured):
        _put()


def test_it_has_a_key_and_a_fifteen_minute_ttl_by_default() -> None:
    assert settings.CREDENTIALS_KEYS and all(len(key) >= 32 for key in settings.CREDENTIALS_KEYS)
    assert settings.CREDENTIALS_TTL == 900


def test_it_seals_and_unseals() -> None:
    token = credentials.seal(PASSWORD)
    for form in _forms(PASSWORD):
        assert form.decode() not in token
    assert credentials.unseal(token, max_age=60) == PASSWORD


def test_it_refuses_an_old_seal(clock: Callable[[float], None]) -> None:
    token = credentials.seal(PASSWORD)
    clock(62)
    with pytest.raises(CredentialsGone):
        credentials.unseal(token, max_age=60)


def test_it_refuses_a_tampered_seal() -> None:
    token = bytearray(base64.urlsafe_b64decode(credentials.seal(PASSWORD)))
    token[-1] ^= 0x01  # one bit of the HMAC
    with pytest.raises(CredentialsGone):
        credentials.unseal(base64.urlsafe_b64encode(bytes(token)).decode(), max_age=60)


def test_it_refuses_to_unseal_what_is_not_a_seal() -> None:
    _put()
    stored = caches["default"].get(credentials._cache_key("b1", "alice"))
    for token in (stored, "", "junk", "é", None):
        with pytest.raises(CredentialsGone):
            credentials.unseal(token, max_age=60)  # type: ignore[arg-type]


def test_it_refuses_a_seal_made_under_another_key() -> None:
    token = credentials.seal(PASSWORD)
    with override_settings(CREDENTIALS_KEYS=["another key"]), pytest.raises(CredentialsGone):
        credentials.unseal(token, max_age=60)
