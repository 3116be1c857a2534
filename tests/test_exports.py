"""The credentials CSV and the sign-in email link (users/exports.py; FEATURES.md §2A, §2E,
§2F; RELIABILITY.md §2.4, checks B9, B10, L5)."""

from __future__ import annotations

import csv
import inspect
import io
import re
import string
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from users.exports import CredentialRow, credentials_csv, sign_in_email_link

URL = "https://123456789012.signin.aws.amazon.com/console"
HEADER = "User name,Password,Access key ID,Secret access key,Console login link\n"
SECRET = "+Jalr/XUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY1"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"

# Valid IAM user names; the ASCII-only pattern of CreateUser.
user_names = st.from_regex(r"[A-Za-z0-9_+=,.@-]{1,64}", fullmatch=True)
secrets = st.from_regex(r"[A-Za-z0-9+/]{40}", fullmatch=True)
key_ids = st.from_regex(r"AKIA[A-Z0-9]{16}", fullmatch=True)
# What the password generator draws from (the password-policy symbols), and custom
# passwords, which an operator types and may start with anything.
generated_passwords = st.text(string.ascii_letters + string.digits + "!@#$%^&*()_+-=[]{}|'", min_size=8, max_size=128)
custom_passwords = st.text(st.characters(codec="utf-8", exclude_characters="\0"), min_size=1)


def _csv(*rows: CredentialRow) -> str:
    return "".join(credentials_csv(rows, URL))


def _read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _aws_configure_import(text: str) -> dict[str, tuple[str, str]]:
    """Profiles as aws-cli v2's `aws configure import --csv --skip-invalid` reads them
    (FEATURES.md §2F): header cells lower-cased and trimmed after a BOM, every line split on
    "," with no unquoting, rows without a key id or secret skipped."""
    header, *lines = text.splitlines()
    names = [cell.lstrip("\ufeff").lower().strip() for cell in header.split(",")]
    user, akid, sak = (names.index(n) for n in ("user name", "access key id", "secret access key"))
    profiles = {}
    for line in lines:
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) > max(user, akid, sak) and cells[user] and cells[akid] and cells[sak]:
            profiles[cells[user]] = (cells[akid], cells[sak])
    return profiles


def test_it_writes_the_exact_header_with_lf_and_no_bom() -> None:
    text = _csv()
    assert text == HEADER
    assert not text.encode("utf-8").startswith(b"\xef\xbb\xbf")


def test_it_writes_a_console_only_row() -> None:
    assert _csv(CredentialRow("alice", password="Xy7!pQ9#rS2@")) == (HEADER + f"alice,Xy7!pQ9#rS2@,,,{URL}\n")


def test_it_writes_a_programmatic_only_row_with_the_link_as_the_console_did() -> None:
    row = CredentialRow("aj", access_key_id=KEY_ID, secret_access_key=SECRET)
    assert _csv(row) == HEADER + f"aj,,{KEY_ID},{SECRET},{URL}\n"


def test_it_writes_both_credentials_in_one_row() -> None:
    row = CredentialRow("bob", password="pw-1", access_key_id=KEY_ID, secret_access_key=SECRET)
    assert _csv(row) == HEADER + f"bob,pw-1,{KEY_ID},{SECRET},{URL}\n"


def test_it_quotes_nothing_in_a_plain_row() -> None:
    text = _csv(CredentialRow("alice", "a", KEY_ID, SECRET))
    assert '"' not in text and "'" not in text
    assert _aws_configure_import(text) == {"alice": (KEY_ID, SECRET)}


@pytest.mark.parametrize("name", ["=A1+B2", "+x", "-alice", "@x", "\tx", "\rx", "\nx", "\0x"])
def test_it_escapes_a_user_name_that_could_be_a_formula(name: str) -> None:
    line = _csv(CredentialRow(name, password="pw")).removeprefix(HEADER)
    assert line.startswith(f'"\'{name}",pw,')
    assert _read(HEADER + line)[1][0] == "'" + name


@pytest.mark.parametrize(
    ("name", "cell", "read"),
    [
        ("a,b", '"a,b"', "a,b"),
        ("a;b", '"a;b"', "a;b"),
        ('a"b', '"a""b"', 'a"b'),
        # OWASP's example.
        ('=1+2";=1+2', '"\'=1+2"";=1+2"', "'=1+2\";=1+2"),
    ],
)
def test_it_quotes_a_user_name_with_separators_or_quotes(name: str, cell: str, read: str) -> None:
    line = _csv(CredentialRow(name)).removeprefix(HEADER)
    assert line == f"{cell},,,,{URL}\n"
    assert _read(HEADER + line)[1][0] == read


@pytest.mark.parametrize("password", ["=SUM(A1)", "+1", "-1", "@home", "\tpw"])
def test_it_writes_passwords_and_secrets_starting_with_a_trigger_byte_exact(password: str) -> None:
    # Escaping would break the credential for every consumer but a spreadsheet.
    row = CredentialRow("carol", password=password, access_key_id=KEY_ID, secret_access_key=SECRET)
    assert _csv(row) == HEADER + f"carol,{password},{KEY_ID},{SECRET},{URL}\n"


def test_it_quotes_a_custom_password_with_separators_and_keeps_it_byte_exact() -> None:
    password = 'a,b;c"d\re\nf'
    text = _csv(CredentialRow("dave", password=password))
    assert text == HEADER + f'dave,"a,b;c""d\re\nf",,,{URL}\n'
    assert _read(text)[1][1] == password


@given(
    st.lists(
        st.tuples(
            user_names,
            st.none() | generated_passwords | custom_passwords,
            st.none() | st.tuples(key_ids, secrets),
        ),
        min_size=1,
        max_size=5,
    )
)
@example([("=A1", "@pw", (KEY_ID, SECRET))])
def test_it_round_trips_every_credential_byte_exact(
    rows: list[tuple[str, str | None, tuple[str, str] | None]],
) -> None:
    written = [CredentialRow(name, pw, *(key or (None, None))) for name, pw, key in rows]
    header, *read = _read(_csv(*written))
    assert header == HEADER.rstrip("\n").split(",")
    assert len(read) == len(written)
    for row, cells in zip(written, read, strict=True):
        escaped = "'" + row.user_name if row.user_name[0] in "=+-@" else row.user_name
        expected = [row.password, row.access_key_id, row.secret_access_key]
        assert cells == [escaped, *(value or "" for value in expected), URL]


@given(user_names.filter(lambda n: n[0] not in "=+-@" and "," not in n), key_ids, secrets)
@example("alice", KEY_ID, "+" + SECRET[1:])
def test_it_imports_keys_byte_exact_with_aws_configure_import(name: str, akid: str, sak: str) -> None:
    text = _csv(
        CredentialRow(name, access_key_id=akid, secret_access_key=sak),
        CredentialRow("console-only", password="Xy7!pQ9#rS2@"),
    )
    assert _aws_configure_import(text) == {name: (akid, sak)}


def test_it_streams_lazily() -> None:
    def rows() -> Iterator[CredentialRow]:
        yield CredentialRow("first")
        raise AssertionError("read before its line was asked for")

    lines = credentials_csv(rows(), URL)
    assert next(lines) == HEADER
    assert next(lines) == f"first,,,,{URL}\n"


def test_it_keeps_secrets_out_of_a_row_repr() -> None:
    text = repr(CredentialRow("alice", "hunter2-pw", KEY_ID, SECRET))
    assert "alice" in text and KEY_ID in text
    assert "hunter2-pw" not in text and SECRET not in text


# --- The sign-in email link ---------------------------------------------------------------


def _expected_body(account_id: str, sign_in_url: str, user_name: str, reset_required: bool) -> str:
    """FEATURES.md §2E, verbatim, with CRLF line breaks."""
    change = " When you sign in for the first time, you must change your password."
    return (
        "Hello,\r\n"
        "\r\n"
        "You have been given access to the AWS Management Console for the Amazon Web Services "
        f"account with the ID ending in {account_id[-4:]}. You can get started by using the "
        "sign-in information provided below.\r\n"
        "\r\n"
        "-------------------------------------------------\r\n"
        "\r\n"
        f"Sign-in URL: {sign_in_url}\r\n"
        f"User name: {user_name}\r\n"
        "\r\n"
        "Your initial sign-in password will be provided to you by your AWS account administrator, "
        f"separately from this email.{change if reset_required else ''}\r\n"
        "\r\n"
        "-------------------------------------------------\r\n"
        "\r\n"
        "Stay connected with AWS by creating a profile: "
        "https://pages.awscloud.com/IAM-communication-preferences.html\r\n"
        "\r\n"
        "Sincerely,\r\n"
        "Your AWS Account Administrator"
    )


@given(
    user_name=user_names,
    account_id=st.from_regex(r"[0-9]{12}", fullmatch=True),
    alias=st.none() | st.from_regex(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", fullmatch=True),
    reset_required=st.booleans(),
)
@example(user_name="a&cc=x@y.z,b?#%0A", account_id="123456789012", alias=None, reset_required=True)
def test_it_builds_a_mailto_without_recipient_or_injection(
    user_name: str, account_id: str, alias: str | None, reset_required: bool
) -> None:
    sign_in_url = f"https://{alias or account_id}.signin.aws.amazon.com/console"
    link = sign_in_email_link(
        account_id=account_id,
        sign_in_url=sign_in_url,
        user_name=user_name,
        reset_required=reset_required,
    )
    # Only unreserved characters and percent-escapes after the two parameter names.
    assert re.fullmatch(r"mailto:\?subject=[A-Za-z0-9%._~-]+&body=[A-Za-z0-9%._~-]+", link)
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == ("mailto", "", "", "")
    query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=True)
    assert query == {
        "subject": ["Welcome to Amazon Web Services"],
        "body": [_expected_body(account_id, sign_in_url, user_name, reset_required)],
    }
    assert "%0D%0A" in link and not re.search(r"(?<!%0D)%0A", link)


def test_it_asks_for_a_password_change_only_when_a_reset_is_required() -> None:
    sentence = "When you sign in for the first time, you must change your password."

    def body(reset_required: bool) -> str:
        link = sign_in_email_link(
            account_id="123456789012", sign_in_url=URL, user_name="al", reset_required=reset_required
        )
        return parse_qs(urlsplit(link).query)["body"][0]

    assert sentence in body(True)
    assert sentence not in body(False)
    assert "ID ending in 9012." in body(False)


def test_it_takes_no_secret() -> None:
    assert set(inspect.signature(sign_in_email_link).parameters) == {
        "account_id",
        "sign_in_url",
        "user_name",
        "reset_required",
    }


@pytest.mark.parametrize("account_id", ["", "12345678901", "1234567890123", "12345678901a", "１２３４５６７８９０１２"])
def test_it_refuses_an_account_id_that_is_not_12_digits(account_id: str) -> None:
    with pytest.raises(ValueError):
        sign_in_email_link(account_id=account_id, sign_in_url=URL, user_name="a", reset_required=False)
