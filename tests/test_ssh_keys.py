"""Upload SSH public key (CodeCommit, Security credentials tab): users/ssh_keys.py is the oracle
for what UploadSSHPublicKey accepts, since moto checks none of it. Keys are made here with
`cryptography`; the wire-format blobs of the size bounds are built by hand, so that the tests do
not lean on the serialiser the validator uses. No database, but for the duplicate key: refused by
the upload page, and by the embedded backend as IAM does (DuplicateSSHPublicKey)."""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import struct
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from django.core.exceptions import ValidationError
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from users.iam.errors import InvalidPublicKey
from users.ssh_keys import (
    DUPLICATE_MESSAGE,
    MAX_BITS,
    MAX_SSH_KEYS_PER_USER,
    MIN_BITS,
    fingerprint,
    is_duplicate,
    validate_ssh_public_key,
)

CODES = {
    "ssh_key_private",
    "ssh_key_type",
    "ssh_key_size",
    "ssh_key_format",
    "ssh_key_characters",
    "ssh_key_empty",
    "ssh_key_too_long",
}

# Made with `ssh-keygen -t rsa -b 2048`; its fingerprint as `ssh-keygen -l -E md5` prints it.
KNOWN_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDuEItM5guCpsWMHdGl9wNjaoilyDq4IxKFNxObmVr/XO3rGORDYekr"
    "gBJdABvXBANd9AOG2rxc5KyPq3e2OtlnWnxSu8oZFlD1e4YBCyqgYbujkKs2Kn6t/frCokJ4n4DQfwZbvFnQpQHFsP9f"
    "AgtFB5j/91jZfJn8THT4mPQNmT0aTAG26HYG0o5+1afJQKb+iYjMjFPrs1HnumtIpBVjWYMtt5FSuT9veW4ek6+dn1Xx"
    "JLp5U4yjj32JexmkNKWpKmMovE1bRMNdKUEXb4H8Fk1wCZYlzCPUB6nhyy0Ai2cm57TLnTzz8YiL3I9/fBjQIexa1Yb0"
    "8MUpDKIZsR+P alice@example.com"
)
KNOWN_FINGERPRINT = "9a:e8:5a:41:7c:c6:bb:d3:39:3c:ff:24:da:1d:f9:5f"


@functools.cache
def rsa_key(bits: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def openssh(key: PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()


def pem(key: PrivateKey, form: PublicFormat) -> str:
    return key.public_key().public_bytes(Encoding.PEM, form).decode()


def private(key: PrivateKey, form: PrivateFormat, password: bytes | None = None) -> str:
    """The key in PEM, in `form`, encrypted with `password` if one is given."""
    encryption = BestAvailableEncryption(password) if password else NoEncryption()
    return key.private_bytes(Encoding.PEM, form, encryption).decode()


def ssh_rsa_line(modulus: int, exponent: int = 65537) -> str:
    """An `ssh-rsa` line built by hand from RFC 4253's string and mpint encodings."""

    def string(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data

    def mpint(value: int) -> bytes:
        return string(value.to_bytes(value.bit_length() // 8 + 1, "big"))

    blob = string(b"ssh-rsa") + mpint(exponent) + mpint(modulus)
    return "ssh-rsa " + base64.b64encode(blob).decode()


def modulus(bits: int) -> int:
    """An odd number of exactly `bits` bits: enough for a public key to load."""
    return (1 << (bits - 1)) | 1


def md5_colons(openssh_line: str) -> str:
    digest = hashlib.md5(base64.b64decode(openssh_line.split()[1])).hexdigest()
    return ":".join(re.findall("..", digest))


def refusal(body: str) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        validate_ssh_public_key(body)
    return caught.value


def assert_not_echoed(body: str, error: ValidationError) -> None:
    """No 20-character stretch of the input is in any message."""
    for message in error.messages:
        for start in range(len(body) - 19):
            assert body[start : start + 20] not in message


def test_it_follows_the_iam_quotas() -> None:
    assert (MAX_SSH_KEYS_PER_USER, MIN_BITS, MAX_BITS) == (5, 2048, 16384)


@pytest.mark.parametrize("bits", [2048, 4096])
@pytest.mark.parametrize("comment", ["", " alice@laptop", " my key (work)"])
def test_it_accepts_openssh_rsa_keys_with_or_without_comment(bits: int, comment: str) -> None:
    body = openssh(rsa_key(bits)) + comment
    assert validate_ssh_public_key(body) == body


def test_it_strips_surrounding_whitespace() -> None:
    body = openssh(rsa_key(2048)) + " alice@laptop"
    assert validate_ssh_public_key(f"\n\t  {body}  \r\n") == body


def test_it_accepts_a_tab_separator_and_a_latin1_comment() -> None:
    body = openssh(rsa_key(2048)).replace(" ", "\t") + "\tJosé Müller"
    assert validate_ssh_public_key(body) == body


@pytest.mark.parametrize("form", [PublicFormat.SubjectPublicKeyInfo, PublicFormat.PKCS1])
@pytest.mark.parametrize("bits", [2048, 4096])
def test_it_accepts_pem_rsa_public_keys(form: PublicFormat, bits: int) -> None:
    body = pem(rsa_key(bits), form)
    label = "PUBLIC KEY" if form is PublicFormat.SubjectPublicKeyInfo else "RSA PUBLIC KEY"
    assert body.startswith(f"-----BEGIN {label}-----")
    assert validate_ssh_public_key(body) == body.strip()


def test_it_accepts_pem_with_windows_line_breaks() -> None:
    body = pem(rsa_key(2048), PublicFormat.SubjectPublicKeyInfo).strip().replace("\n", "\r\n")
    assert validate_ssh_public_key(body) == body


def test_it_refuses_a_1024_bit_key_for_its_size() -> None:
    error = refusal(openssh(rsa_key(1024)))
    assert error.code == "ssh_key_size"
    assert error.messages == ["The key must be between 2,048 and 16,384 bits long; this one has 1,024."]


@pytest.mark.parametrize("bits, valid", [(2047, False), (2048, True), (16384, True), (16385, False), (16392, False)])
def test_it_bounds_the_key_size_in_openssh_format(bits: int, valid: bool) -> None:
    body = ssh_rsa_line(modulus(bits))
    if valid:
        assert validate_ssh_public_key(body) == body
    else:
        error = refusal(body)
        assert error.code == "ssh_key_size"
        assert f"this one has {bits:,}." in error.messages[0]


@pytest.mark.parametrize("bits, valid", [(2047, False), (2048, True), (16384, True), (16392, False)])
@pytest.mark.parametrize("form", [PublicFormat.SubjectPublicKeyInfo, PublicFormat.PKCS1])
def test_it_bounds_the_key_size_in_pem_format(bits: int, valid: bool, form: PublicFormat) -> None:
    key = rsa.RSAPublicNumbers(65537, modulus(bits)).public_key()
    body = key.public_bytes(Encoding.PEM, form).decode()
    if valid:
        assert validate_ssh_public_key(body) == body.strip()
    else:
        assert refusal(body).code == "ssh_key_size"


@pytest.mark.parametrize(
    "body",
    [
        openssh(ed25519.Ed25519PrivateKey.generate()),
        openssh(ed25519.Ed25519PrivateKey.generate()) + " bob@laptop",
        openssh(ec.generate_private_key(ec.SECP256R1())),
        openssh(ec.generate_private_key(ec.SECP384R1())),
        pem(ed25519.Ed25519PrivateKey.generate(), PublicFormat.SubjectPublicKeyInfo),
        pem(ec.generate_private_key(ec.SECP256R1()), PublicFormat.SubjectPublicKeyInfo),
        "ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5Of2EbdSPO9EAMMeP4C2USZpRV1AIlH7WT2NWPq/xfW6",
        "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIA== bob@key",
        "ssh-rsa-cert-v01@openssh.com AAAAHHNzaC1yc2EtY2VydC12MDFAb3BlbnNzaC5jb20AAAAg",
    ],
    ids=[
        "ed25519",
        "ed25519-comment",
        "ecdsa-p256",
        "ecdsa-p384",
        "ed25519-pem",
        "ecdsa-pem",
        "dsa",
        "sk-ed25519",
        "rsa-certificate",
    ],
)
def test_it_refuses_keys_of_other_types(body: str) -> None:
    error = refusal(body)
    assert error.code == "ssh_key_type"
    assert "Only RSA keys are accepted" in error.messages[0]
    assert "ssh-rsa" in error.messages[0] and "PEM" in error.messages[0]
    assert_not_echoed(body, error)


def putty_private_key(key: rsa.RSAPrivateKey) -> str:
    """The shape of a PuTTY .ppk file (its private lines are not real PuTTY encoding)."""
    public = openssh(key).split()[1]
    secret = base64.b64encode(key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())).decode()
    return "\n".join(
        [
            "PuTTY-User-Key-File-3: ssh-rsa",
            "Encryption: none",
            "Comment: rsa-key-20240101",
            "Public-Lines: 6",
            *re.findall(".{1,64}", public),
            "Private-Lines: 14",
            *re.findall(".{1,64}", secret),
            "Private-MAC: 5f0c6fbf1e4e1a7c22d2a7cba2bd1c1e0f3d5c8e9b1a2b3c4d5e6f708192a3b4",
        ]
    )


PRIVATE_KEYS = {
    "pkcs8": lambda: private(rsa_key(2048), PrivateFormat.PKCS8),
    "pkcs8-encrypted": lambda: private(rsa_key(2048), PrivateFormat.PKCS8, b"hunter2"),
    "traditional-rsa": lambda: private(rsa_key(2048), PrivateFormat.TraditionalOpenSSL),
    "openssh": lambda: private(rsa_key(2048), PrivateFormat.OpenSSH),
    "openssh-ed25519": lambda: private(ed25519.Ed25519PrivateKey.generate(), PrivateFormat.OpenSSH),
    "ec": lambda: private(ec.generate_private_key(ec.SECP256R1()), PrivateFormat.TraditionalOpenSSL),
    "putty": lambda: putty_private_key(rsa_key(2048)),
    # The OpenSSH private key without its BEGIN/END lines.
    "openssh-body-only": lambda: "".join(private(rsa_key(2048), PrivateFormat.OpenSSH).splitlines()[1:-1]),
    # Both files pasted, the public key first.
    "after-the-public-key": lambda: f"{openssh(rsa_key(2048))}\n{private(rsa_key(2048), PrivateFormat.PKCS8)}",
    # Over the length limit and outside Latin-1: the private-key message still wins.
    "too-long-and-not-latin1": lambda: private(rsa_key(2048), PrivateFormat.PKCS8) + "ā" * 20000,
}


@pytest.mark.parametrize("make", PRIVATE_KEYS.values(), ids=PRIVATE_KEYS.keys())
def test_it_refuses_private_keys_without_echoing_them(make: Callable[[], str]) -> None:
    body = make()
    error = refusal(body)
    assert error.code == "ssh_key_private"
    assert error.messages == [
        "This is a private key. Never paste a private key here, and never share it: upload only "
        "the public key (the .pub file)."
    ]
    assert_not_echoed(body, error)


@pytest.mark.parametrize(
    "body",
    [
        "hello",
        "ssh-rsa",
        "ssh-rsa !!!not-base64!!!",
        "ssh-rsa AAAAB3NzaC1yc2E",
        "ssh-rsa " + base64.b64encode(b"garbage that is valid base64 but no key").decode(),
        # An ed25519 blob under an ssh-rsa label.
        "ssh-rsa " + openssh(ed25519.Ed25519PrivateKey.generate()).split()[1],
        # authorized_keys options before the key.
        'command="/bin/true" ' + openssh(rsa_key(2048)),
        "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PUBLIC KEY-----",
        "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----",
        # Mismatched armour.
        pem(rsa_key(2048), PublicFormat.SubjectPublicKeyInfo).replace("END PUBLIC", "END RSA PUBLIC"),
        # PEM with something after it.
        pem(rsa_key(2048), PublicFormat.SubjectPublicKeyInfo) + "alice@laptop",
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
        # RFC 4716 (`ssh-keygen -e`): IAM takes only OpenSSH and PEM.
        "---- BEGIN SSH2 PUBLIC KEY ----\n"
        "AAAAB3NzaC1yc2EAAAADAQABAAABAQDuEItM5guCpsWMHdGl9wNjaoilyDq4\n"
        "---- END SSH2 PUBLIC KEY ----",
    ],
)
def test_it_refuses_what_is_not_an_rsa_key_in_either_format(body: str) -> None:
    error = refusal(body)
    assert error.code == "ssh_key_format"
    assert error.messages == ["The public key must be an RSA key in ssh-rsa or PEM format."]
    assert_not_echoed(body, error)


@pytest.mark.parametrize(
    "body",
    [
        # Two keys.
        openssh(rsa_key(2048)) + " first\n" + openssh(rsa_key(4096)) + " second",
        # A key wrapped by a terminal.
        openssh(rsa_key(2048))[:70] + "\n" + openssh(rsa_key(2048))[70:],
        openssh(rsa_key(2048)) + " alice\r\nlaptop",
    ],
    ids=["two-keys", "wrapped", "comment-on-two-lines"],
)
def test_it_refuses_an_openssh_key_over_several_lines(body: str) -> None:
    error = refusal(body)
    assert error.code == "ssh_key_format"
    assert error.messages == ["An ssh-rsa public key is a single line: paste one key, without line breaks."]
    assert_not_echoed(body, error)


@pytest.mark.parametrize("body", ["", " ", "\n\t\r\n  "])
def test_it_refuses_an_empty_key(body: str) -> None:
    error = refusal(body)
    assert error.code == "ssh_key_empty"
    assert error.messages == ["You must specify an SSH public key."]


@pytest.mark.parametrize("comment", ["Zoë ā", "laptop 🔑", "中文", "tab\x0bvertical", "nul\x00"])
def test_it_refuses_characters_outside_iams_pattern(comment: str) -> None:
    body = openssh(rsa_key(2048)) + " " + comment
    error = refusal(body)
    assert error.code == "ssh_key_characters"
    assert "Latin-1" in error.messages[0]
    assert_not_echoed(body, error)


def test_it_allows_16384_characters_and_no_more() -> None:
    key = openssh(rsa_key(2048)) + " "
    longest = key + "c" * (16384 - len(key))
    assert validate_ssh_public_key(longest) == longest
    # Surrounding whitespace does not count: it is not sent.
    assert validate_ssh_public_key(f"  {longest}\n") == longest
    error = refusal(longest + "c")
    assert error.code == "ssh_key_too_long"
    assert error.messages == ["The public key can have up to 16,384 characters."]
    assert_not_echoed(longest + "c", error)


def test_it_fingerprints_like_ssh_keygen() -> None:
    assert fingerprint(KNOWN_KEY) == KNOWN_FINGERPRINT


@pytest.mark.parametrize("bits", [2048, 4096])
def test_it_fingerprints_the_md5_of_the_openssh_blob(bits: int) -> None:
    line = openssh(rsa_key(bits))
    assert re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){15}", fingerprint(line))
    assert fingerprint(line) == md5_colons(line)
    assert fingerprint(f"  {line} a comment\n") == md5_colons(line)


@pytest.mark.parametrize("form", [PublicFormat.SubjectPublicKeyInfo, PublicFormat.PKCS1])
def test_it_fingerprints_a_pem_key_as_its_openssh_form(form: PublicFormat) -> None:
    key = rsa_key(2048)
    assert fingerprint(pem(key, form)) == md5_colons(openssh(key))


def test_it_refuses_to_fingerprint_what_it_would_not_upload() -> None:
    body = private(rsa_key(2048), PrivateFormat.PKCS8)
    with pytest.raises(ValidationError) as caught:
        fingerprint(body)
    assert caught.value.code == "ssh_key_private"
    assert_not_echoed(body, caught.value)


@given(st.text(max_size=300))
def test_it_refuses_arbitrary_text_with_a_known_code_and_without_echoing_it(body: str) -> None:
    try:
        validate_ssh_public_key(body)
    except ValidationError as error:
        assert error.code in CODES
        assert_not_echoed(body, error)
    else:
        pytest.fail("arbitrary text passed as a key")


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=200))
def test_it_accepts_any_comment_in_iams_pattern(comment: str) -> None:
    body = f"{openssh(rsa_key(2048))} {comment}"
    assert validate_ssh_public_key(body) == body.strip()


# --- The same key twice (IAM: DuplicateSSHPublicKey) ------------------------------------------


def test_it_sees_the_same_key_whatever_its_format_and_comment() -> None:
    key = rsa_key(2048)
    existing = [openssh(rsa_key(3072)), f"{openssh(key)} alice@laptop"]
    assert is_duplicate(f"{openssh(key)} alice@desktop", existing)
    assert is_duplicate(pem(key, PublicFormat.PKCS1), existing)
    assert is_duplicate(openssh(key), [pem(key, PublicFormat.SubjectPublicKeyInfo)])
    assert not is_duplicate(openssh(rsa_key(4096)), existing)


def test_it_skips_existing_keys_it_would_not_upload() -> None:
    key = rsa_key(2048)
    assert not is_duplicate(openssh(key), ["not a key", openssh(ec.generate_private_key(ec.SECP256R1()))])


@pytest.mark.django_db
def test_the_upload_page_refuses_a_key_the_user_already_has(iam, operator_client) -> None:
    iam.create_user("arthur")
    key = openssh(rsa_key(2048))
    uploaded = iam.upload_ssh_public_key("arthur", f"{key} alice@laptop")
    url = reverse("users:ssh_key_upload", args=["arthur"])
    response = operator_client.post(url, {"body": f"{key} alice@desktop"})
    assert response.status_code == 400
    assert DUPLICATE_MESSAGE in response.content.decode()
    assert [k.key_id for k in iam.list_ssh_public_keys("arthur")] == [uploaded.key_id]
    assert operator_client.post(url, {"body": openssh(rsa_key(3072))}).status_code == 302
    assert len(iam.list_ssh_public_keys("arthur")) == 2


@pytest.mark.django_db
def test_the_embedded_backend_refuses_a_duplicate_as_iam_does(iam) -> None:
    """moto stores the same key twice; users/iam/embedded/ssh_keys.py answers DuplicateSSHPublicKey."""
    iam.create_user("arthur")
    key = rsa_key(2048)
    iam.upload_ssh_public_key("arthur", f"{openssh(key)} alice@laptop")
    with pytest.raises(InvalidPublicKey) as caught:
        iam.upload_ssh_public_key("arthur", pem(key, PublicFormat.SubjectPublicKeyInfo))
    assert caught.value.code == "DuplicateSSHPublicKey"
    assert "already associated with the specified IAM user" in caught.value.message
    assert len(iam.list_ssh_public_keys("arthur")) == 1
    iam.create_user("marvin")  # another user may have the same key
    iam.upload_ssh_public_key("marvin", openssh(key))
    assert len(iam.list_ssh_public_keys("marvin")) == 1
