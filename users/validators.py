"""The IAM API's input rules (RELIABILITY.md §4), as pure functions: no I/O, no database.

moto enforces almost none of these (RELIABILITY.md §2.1), so these functions are the oracle:
a form that passes them must never get `InvalidInput`/`ValidationError` back from IAM.
The `validate_*` functions return None or raise `ValidationError` in the console's words, so a
form's `clean_<field>()` can call them as they are and the error lands next to the field.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError

if TYPE_CHECKING:
    from users.iam.types import PasswordPolicy

# --- Quotas per user (IAM quotas page) ----------------------------------------------------

MAX_GROUPS_PER_USER = 10
MAX_MANAGED_POLICIES_PER_USER = 10

# --- Names and paths ---------------------------------------------------------------------

# IAM's `[\w+=,.@-]+` uses Java's `\w`, which is ASCII: Python's `\w` would accept `é` and
# Arabic digits. `fullmatch`, not `match(…$)`: `$` also matches before a trailing newline.
USER_NAME_RE = re.compile(r"[A-Za-z0-9_+=,.@-]{1,64}", re.ASCII)
GROUP_NAME_RE = re.compile(r"[A-Za-z0-9_+=,.@-]{1,128}", re.ASCII)
# `/` alone, or `/…/` of printable ASCII without space (`/../` is fine: it is not a file path).
PATH_RE = re.compile(r"/|/[\x21-\x7E]{1,510}/", re.ASCII)
# A managed policy ARN, as the pages that show a policy take it in their query string.
POLICY_ARN_RE = re.compile(r"arn:aws[a-z-]*:iam::(aws|\d{12}):policy/[\x21-\x7E]{1,1100}", re.ASCII)

USER_NAME_MESSAGE = (
    "The user name can have up to 64 characters. Valid characters: A-Z, a-z, 0-9, and + = , . @ _ - (hyphen)"
)
GROUP_NAME_MESSAGE = "The group name can have up to 128 characters. Use alphanumeric and '+=,.@-_' characters."
PATH_MESSAGE = (
    "The path must be a forward slash (/) alone, or begin and end with one, with up to 512 "
    "characters from ! to ~ (printable ASCII without spaces)."
)


def is_valid_user_name(name: str) -> bool:
    """Whether IAM accepts `name` as a user name (uniqueness aside)."""
    return USER_NAME_RE.fullmatch(name) is not None


def validate_user_name(name: str) -> None:
    """1–64 characters of A-Z a-z 0-9 `+ = , . @ _ -`."""
    if not is_valid_user_name(name):
        raise ValidationError(USER_NAME_MESSAGE, code="invalid_user_name")


def validate_group_name(name: str) -> None:
    """1–128 characters of the user-name alphabet."""
    if GROUP_NAME_RE.fullmatch(name) is None:
        raise ValidationError(GROUP_NAME_MESSAGE, code="invalid_group_name")


def duplicate_names(names: Iterable[str]) -> set[str]:
    """Every spelling of each name given more than once, ignoring case (IAM names are unique
    case-insensitively): `["Alice", "alice", "bob"]` gives `{"Alice", "alice"}`, so a form can
    flag each offending row."""
    given = list(names)
    counts = Counter(name.casefold() for name in given)
    return {name for name in given if counts[name.casefold()] > 1}


def validate_path(path: str) -> None:
    """`/`, or 3–512 characters that begin and end with `/` and lie in U+0021–U+007E."""
    if PATH_RE.fullmatch(path) is None:
        raise ValidationError(PATH_MESSAGE, code="invalid_path")


# --- Tags --------------------------------------------------------------------------------

MAX_TAGS = 50
TAG_KEY_MAX_LENGTH = 128
TAG_VALUE_MAX_LENGTH = 256
# IAM's `[\p{L}\p{Z}\p{N}_.:/=+\-@]`: letters, separators, numbers, and these.
TAG_PUNCTUATION = frozenset("_.:/=+-@")

# The AWS console's tag editor's words.
TAG_KEY_EMPTY_MESSAGE = "You must specify a tag key."
TAG_KEY_LENGTH_MESSAGE = "The maximum number of characters you can use in a tag key is 128."
TAG_VALUE_LENGTH_MESSAGE = "The maximum number of characters you can use in a tag value is 256."
TAG_KEY_CHARACTERS_MESSAGE = (
    "Invalid key. Keys can only contain Unicode letters, digits, white space and any of the following: _.:/=+@-"
)
TAG_VALUE_CHARACTERS_MESSAGE = (
    "Invalid value. Values can only contain Unicode letters, digits, white space and any of the following: _.:/=+@-"
)
TAG_AWS_PREFIX_MESSAGE = "Cannot start with aws:"
TAG_DUPLICATE_KEY_MESSAGE = "You must specify a unique tag key."
TAG_LIMIT_MESSAGE = f"You have exceeded the limit of {MAX_TAGS} tags."

# The console tags each user it creates with the job that created it (users/provisioning.py),
# so that a retry can tell its own user from someone else's. New users keep one tag for it.
CONSOLE_TAG_PREFIX = "iamconsole:"
MAX_NEW_USER_TAGS = MAX_TAGS - 1
TAG_CONSOLE_PREFIX_MESSAGE = "Cannot start with iamconsole: (the console's own tags)"
NEW_USER_TAG_LIMIT_MESSAGE = (
    f"You have exceeded the limit of {MAX_NEW_USER_TAGS} tags: IAM allows {MAX_TAGS}, and the "
    "console adds iamconsole:created-by to each user it creates."
)


def _is_tag_text(text: str) -> bool:
    # Categories L*, Z*, N* (Python iterates code points, as Java's \p{…} does); lone
    # surrogates are "Cs", marks "M*": both rejected, as by IAM.
    return all(c in TAG_PUNCTUATION or unicodedata.category(c)[0] in "LZN" for c in text)


def validate_tag_key(key: str) -> None:
    """1–128 tag characters, not starting with `aws:` in any case. Raises with every message
    that applies."""
    if not key:
        raise ValidationError(TAG_KEY_EMPTY_MESSAGE, code="required")
    errors: list[ValidationError] = []
    if len(key) > TAG_KEY_MAX_LENGTH:
        errors.append(ValidationError(TAG_KEY_LENGTH_MESSAGE, code="max_length"))
    if not _is_tag_text(key):
        errors.append(ValidationError(TAG_KEY_CHARACTERS_MESSAGE, code="invalid_tag_key"))
    # casefold() also reserves "awſ:" (long s), as Java's equalsIgnoreCase would: stricter is
    # safer, since a key we pass must never come back as InvalidInput.
    if key.casefold().startswith("aws:"):
        errors.append(ValidationError(TAG_AWS_PREFIX_MESSAGE, code="reserved_tag_key"))
    if key.casefold().startswith(CONSOLE_TAG_PREFIX):
        errors.append(ValidationError(TAG_CONSOLE_PREFIX_MESSAGE, code="reserved_tag_key"))
    if errors:
        raise ValidationError(errors)


def validate_tag_value(value: str) -> None:
    """0–256 tag characters (a value may be empty)."""
    errors: list[ValidationError] = []
    if len(value) > TAG_VALUE_MAX_LENGTH:
        errors.append(ValidationError(TAG_VALUE_LENGTH_MESSAGE, code="max_length"))
    if not _is_tag_text(value):
        errors.append(ValidationError(TAG_VALUE_CHARACTERS_MESSAGE, code="invalid_tag_value"))
    if errors:
        raise ValidationError(errors)


@dataclass(frozen=True, slots=True)
class TagErrors:
    """What `validate_tags` found; false when the set is valid.

    `rows` maps a row index to `{"key" | "value": [messages]}` (only rows and fields with errors);
    `overall` holds the errors of the set as a whole (the 50-tag limit), for `non_form_errors`.
    """

    rows: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    overall: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.rows or self.overall)


def validate_tags(pairs: Sequence[tuple[str, str]], *, new_user: bool = False) -> TagErrors:
    """Check a user's whole tag set: each key and value, keys unique ignoring case (the rows
    after the first spelling get the error), at most 50 tags (49 for a `new_user`: the console
    adds its own). Every pair counts: drop blank rows first, and on the Tags tab pass the
    user's resulting set, not just the new rows."""
    rows: dict[int, dict[str, list[str]]] = {}
    seen: set[str] = set()
    for index, (key, value) in enumerate(pairs):
        row: dict[str, list[str]] = {}
        try:
            validate_tag_key(key)
        except ValidationError as error:
            row["key"] = error.messages
        if key and key.casefold() in seen:
            row.setdefault("key", []).append(TAG_DUPLICATE_KEY_MESSAGE)
        seen.add(key.casefold())
        try:
            validate_tag_value(value)
        except ValidationError as error:
            row["value"] = error.messages
        if row:
            rows[index] = row
    limit, message = (MAX_NEW_USER_TAGS, NEW_USER_TAG_LIMIT_MESSAGE) if new_user else (MAX_TAGS, TAG_LIMIT_MESSAGE)
    overall = [message] if len(pairs) > limit else []
    return TagErrors(rows, overall)


# --- Passwords ---------------------------------------------------------------------------

# The account password policy's "non-alphanumeric characters", as the console lists them.
SYMBOLS = "! @ # $ % ^ & * ( ) _ + - = [ ] { } | '"
SYMBOL_CHARS = frozenset(SYMBOLS.replace(" ", ""))
PASSWORD_MAX_LENGTH = 128
# CreateLoginProfile's `[\u0009\u000A\u000D\u0020-\u00FF]+`.
PASSWORD_RE = re.compile(r"[\t\n\r\x20-\xFF]*")

UPPERCASE_MESSAGE = "Must include at least one uppercase letter from the Latin alphabet (A-Z)"
LOWERCASE_MESSAGE = "Must include at least one lowercase letter from the Latin alphabet (a-z)"
NUMBER_MESSAGE = "Must include at least one number (0-9)"
SYMBOL_MESSAGE = f"Must include at least one non-alphanumeric character ({SYMBOLS})"
THREE_OF_FOUR_MESSAGE = (
    "Must include at least three of the following mix of character types: uppercase letters "
    "(A-Z), lowercase letters (a-z), numbers (0-9), and symbols "
    "! @ # $ % ^ & * ( ) _ + - (hyphen) = [ ] { } | '"
)
PASSWORD_TOO_LONG_MESSAGE = f"Must be at most {PASSWORD_MAX_LENGTH} characters long"
PASSWORD_CHARACTERS_MESSAGE = (
    "Must contain only Latin-1 characters (U+0020 to U+00FF), tabs or line breaks: no emoji and no letters such as ā"
)


def _minimum_length_message(policy: PasswordPolicy) -> str:
    return f"Must be at least {max(policy.minimum_length, 1)} characters long"


def password_requirements(policy: PasswordPolicy) -> list[str]:
    """The policy's rules in the console's words, to show next to a password field."""
    checks = [
        (True, _minimum_length_message(policy)),
        (policy.require_uppercase, UPPERCASE_MESSAGE),
        (policy.require_lowercase, LOWERCASE_MESSAGE),
        (policy.require_numbers, NUMBER_MESSAGE),
        (policy.require_symbols, SYMBOL_MESSAGE),
        (policy.requires_three_of_four, THREE_OF_FOUR_MESSAGE),
    ]
    return [message for required, message in checks if required]


def password_problems(password: str, policy: PasswordPolicy) -> list[str]:
    """The rules `password` breaks, in the order of `password_requirements` followed by the
    API's own (at most 128 characters, Latin-1 only); empty when IAM will accept it. Only
    A-Z, a-z, 0-9 and `SYMBOLS` count towards the character types, as in IAM. Not checked:
    the default policy's "not your account name or email", which we cannot know."""
    has_upper = any("A" <= c <= "Z" for c in password)
    has_lower = any("a" <= c <= "z" for c in password)
    has_number = any("0" <= c <= "9" for c in password)
    has_symbol = any(c in SYMBOL_CHARS for c in password)
    checks = [
        (len(password) >= max(policy.minimum_length, 1), _minimum_length_message(policy)),
        (not policy.require_uppercase or has_upper, UPPERCASE_MESSAGE),
        (not policy.require_lowercase or has_lower, LOWERCASE_MESSAGE),
        (not policy.require_numbers or has_number, NUMBER_MESSAGE),
        (not policy.require_symbols or has_symbol, SYMBOL_MESSAGE),
        (
            not policy.requires_three_of_four or has_upper + has_lower + has_number + has_symbol >= 3,
            THREE_OF_FOUR_MESSAGE,
        ),
        (len(password) <= PASSWORD_MAX_LENGTH, PASSWORD_TOO_LONG_MESSAGE),
        (PASSWORD_RE.fullmatch(password) is not None, PASSWORD_CHARACTERS_MESSAGE),
    ]
    return [message for met, message in checks if not met]
