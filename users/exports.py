"""What the retrieve page hands out: the credentials CSV, the `~/.aws/credentials` snippet and
the sign-in email link.

The CSV follows FEATURES.md §2F and RELIABILITY.md §2.4: AWS-generated values and passwords
byte-exact, formula escaping only for cells an operator controls, selective quoting so that
`aws configure import` (which splits on "," and never unquotes) reads keys and secrets as is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

CSV_HEADER = ("User name", "Password", "Access key ID", "Secret access key", "Console login link")
SERVICE_CREDENTIAL_HEADER = ("User Name", "Password")

# OWASP CSV Injection and ASVS v5 1.2.10: a cell starting with one of these can be a formula.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")
# RFC 4180 quoting, plus ";": the list separator of spreadsheets in many locales.
_NEEDS_QUOTES = re.compile(r'[,;"\r\n]')
# What a `~/.aws/credentials` profile name keeps of a user name: IAM's own user-name characters.
_PROFILE_UNSAFE = re.compile(r"[^\w+=,.@-]", re.ASCII)


@dataclass(frozen=True, slots=True)
class CredentialRow:
    """One created user's credentials; None where that credential was not created."""

    user_name: str
    password: str | None = field(default=None, repr=False)
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)


def credentials_csv(rows: Iterable[CredentialRow], sign_in_url: str) -> Iterator[str]:
    """The lines of `credentials.csv`, header first, for a `StreamingHttpResponse`.

    UTF-8 without BOM, LF line endings. Only the user name is formula-escaped (a leading `'`,
    then quoted); passwords (a custom one may start with `=`), key ids and secrets (1 in 32
    starts with `+`) are written byte-exact, since escaping would break them for every
    consumer but spreadsheets. A user name that needed escaping or quoting, or a password
    with `,` `;` `"`, does not import with `aws configure import`; the page should say so.
    """
    yield _line(CSV_HEADER)
    for row in rows:
        yield _line(
            (
                _cell(row.user_name, operator_controlled=True),
                _cell(row.password or ""),
                _cell(row.access_key_id or ""),
                _cell(row.secret_access_key or ""),
                # Always the link, console access or not, as the 2017–2022 console's file
                # did (FEATURES.md §2A: `aj,,AKIA…,<secret>,https://…/console`).
                _cell(sign_in_url),
            )
        )


def service_credential_csv(service_user_name: str, password: str) -> Iterator[str]:
    """The lines of the Download credentials CSV of HTTPS Git or Keyspaces credentials: the
    service user name (made from the IAM user name, so formula-escaped as user names are) and the
    IAM-generated password, byte-exact."""
    yield _line(SERVICE_CREDENTIAL_HEADER)
    yield _line((_cell(service_user_name, operator_controlled=True), _cell(password)))


def aws_credentials_file(rows: Iterable[CredentialRow], *, account_id: str) -> str:
    """A `~/.aws/credentials` snippet: one profile per row that holds an access key and its
    secret (a console-only user, or a secret no longer in the store, is left out), named after
    the IAM user, under a comment naming the user and the account. UTF-8, LF line endings.

    Profile names keep IAM's user-name characters (`[\\w+=,.@-]`) and turn anything else into
    `_`, so that no name can end a section header (`]`) or start another line; a name met twice
    gets `-2`, `-3` … (a repeated section breaks botocore's parser). Keys and secrets are written
    as they are: one with a space, a control character or a line break raises `ValueError`
    rather than make a file that parses as something else.
    """
    lines = [
        f"# Profiles for ~/.aws/credentials: access keys of IAM users in AWS account {_printable(account_id)}.",
        "# Add them to ~/.aws/credentials (no profile of the same name may be there already).",
    ]
    taken: set[str] = set()
    for row in rows:
        if not (row.access_key_id and row.secret_access_key):
            continue
        profile = _profile_name(row.user_name, taken)
        taken.add(profile)
        lines += [
            "",
            f"# IAM user {_printable(row.user_name)}, AWS account {_printable(account_id)}",
            f"[{profile}]",
            f"aws_access_key_id = {_ini_value(row.access_key_id)}",
            f"aws_secret_access_key = {_ini_value(row.secret_access_key)}",
        ]
    return "\n".join(lines) + "\n"


def _profile_name(user_name: str, taken: set[str]) -> str:
    base = _PROFILE_UNSAFE.sub("_", user_name) or "user"
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base}-{number}"
    return name


def _printable(text: str) -> str:
    """`text` for a comment line: every character that could end the line (or hide) as `?`."""
    return "".join(char if char.isprintable() else "?" for char in text)


def _ini_value(value: str) -> str:
    if not value or any(char.isspace() or not char.isprintable() for char in value):
        raise ValueError("an access key or secret with a space or a control character")
    return value


def sign_in_email_link(*, account_id: str, sign_in_url: str, user_name: str, reset_required: bool) -> str:
    """The "Send email" link: a `mailto:` with no recipient, the AWS console's subject and
    body (FEATURES.md §2E), line breaks as %0D%0A (RFC 6068). It never carries a password or
    a key. Every character outside the unreserved set is percent-encoded, so a user name
    cannot add a header or a recipient (`&`, `=`, `?`, `#`, `%`, `,` included)."""
    if not re.fullmatch(r"[0-9]{12}", account_id):
        raise ValueError("account_id must be 12 digits")
    change = " When you sign in for the first time, you must change your password."
    rule = "-" * 49
    body = "\r\n".join(
        [
            "Hello,",
            "",
            "You have been given access to the AWS Management Console for the Amazon Web Services"
            f" account with the ID ending in {account_id[-4:]}. You can get started by using the"
            " sign-in information provided below.",
            "",
            rule,
            "",
            f"Sign-in URL: {sign_in_url}",
            f"User name: {user_name}",
            "",
            "Your initial sign-in password will be provided to you by your AWS account"
            f" administrator, separately from this email.{change if reset_required else ''}",
            "",
            rule,
            "",
            "Stay connected with AWS by creating a profile:"
            " https://pages.awscloud.com/IAM-communication-preferences.html",
            "",
            "Sincerely,",
            "Your AWS Account Administrator",
        ]
    )
    subject = "Welcome to Amazon Web Services"
    return f"mailto:?subject={quote(subject, safe='')}&body={quote(body, safe='')}"


def escaped_line(cells: Iterable[str]) -> str:
    """One CSV line (LF-terminated) of cells that are all operator-controlled, each
    formula-escaped and quoted as `credentials_csv` does its user names (the audit export)."""
    return _line(_cell(value, operator_controlled=True) for value in cells)


def _cell(value: str, *, operator_controlled: bool = False) -> str:
    # By hand rather than csv.writer: with lineterminator="\n" it leaves a lone CR unquoted,
    # and it cannot quote one cell (an escaped one) without quoting them all.
    if operator_controlled and value.startswith(_FORMULA_TRIGGERS):
        # Prefixed and quoted (RELIABILITY.md check B10), as OWASP advises.
        return _quoted("'" + value)
    return _quoted(value) if _NEEDS_QUOTES.search(value) else value


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _line(cells: Iterable[str]) -> str:
    return ",".join(cells) + "\n"
