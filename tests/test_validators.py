"""The IAM input rules (RELIABILITY.md §4, checks B1, B3, B4). Our validators are the oracle for
what IAM accepts (moto checks almost none of it), so each is property-tested against the IAM API
pattern, written here independently of users/validators.py."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from users.iam.types import PasswordPolicy
from users.validators import (
    GROUP_NAME_MESSAGE,
    LOWERCASE_MESSAGE,
    MAX_NEW_USER_TAGS,
    MAX_TAGS,
    NEW_USER_TAG_LIMIT_MESSAGE,
    NUMBER_MESSAGE,
    PASSWORD_CHARACTERS_MESSAGE,
    PASSWORD_TOO_LONG_MESSAGE,
    PATH_MESSAGE,
    SYMBOL_MESSAGE,
    SYMBOLS,
    TAG_AWS_PREFIX_MESSAGE,
    TAG_CONSOLE_PREFIX_MESSAGE,
    TAG_DUPLICATE_KEY_MESSAGE,
    TAG_KEY_CHARACTERS_MESSAGE,
    TAG_KEY_EMPTY_MESSAGE,
    TAG_KEY_LENGTH_MESSAGE,
    TAG_LIMIT_MESSAGE,
    TAG_VALUE_CHARACTERS_MESSAGE,
    TAG_VALUE_LENGTH_MESSAGE,
    THREE_OF_FOUR_MESSAGE,
    UPPERCASE_MESSAGE,
    USER_NAME_MESSAGE,
    duplicate_names,
    is_valid_user_name,
    password_problems,
    password_requirements,
    validate_group_name,
    validate_path,
    validate_tag_key,
    validate_tag_value,
    validate_tags,
    validate_user_name,
)

# The IAM API patterns, as RELIABILITY.md §4 writes them: the oracles.
AWS_USER_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]{1,64}", re.ASCII)
AWS_GROUP_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]{1,128}", re.ASCII)
AWS_PATH = re.compile("(\u002f)|(\u002f[\u0021-\u007e]+\u002f)")
AWS_PASSWORD = re.compile("[\u0009\u000a\u000d\u0020-\u00ff]+")
DEFAULT = PasswordPolicy.iam_default()
# Near misses mixed with valid characters, so that generated strings hit both sides often.
NAME_ALPHABET = "aZ09_+=,.@-" + " é\nａ٣ß/!\x00"


def error(validator: Callable[[str], None], value: str) -> list[str] | None:
    """The messages `validator` raises for `value`, or None when it accepts it."""
    try:
        validator(value)
    except ValidationError as exc:
        return exc.messages
    return None


# --- User and group names (B1) -----------------------------------------------------------


@given(st.text() | st.text(NAME_ALPHABET, max_size=70) | st.text("aZ9", min_size=60, max_size=70))
def test_it_accepts_exactly_the_user_names_the_aws_pattern_accepts(name: str) -> None:
    expected = AWS_USER_NAME.fullmatch(name) is not None
    assert (error(validate_user_name, name) is None) == expected == is_valid_user_name(name)


@given(st.from_regex(AWS_USER_NAME, fullmatch=True))
def test_it_accepts_every_name_the_aws_pattern_generates(name: str) -> None:
    validate_user_name(name)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("alice", True),
        ("a+b@c.d=,e-", True),
        ("=A1+B2", True),
        ("under_score", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("", False),
        ("José", False),
        ("x\n", False),
        ("ａlice", False),  # fullwidth a
        ("user٣", False),  # Arabic-Indic digit three
        ("straße", False),
        ("two words", False),
        ("a/b", False),
    ],
)
def test_it_checks_user_names_like_iam(name: str, valid: bool) -> None:
    assert error(validate_user_name, name) == (None if valid else [USER_NAME_MESSAGE])


@given(st.text(NAME_ALPHABET, max_size=130) | st.text("aZ9", min_size=125, max_size=135))
def test_it_accepts_exactly_the_group_names_the_aws_pattern_accepts(name: str) -> None:
    expected = None if AWS_GROUP_NAME.fullmatch(name) else [GROUP_NAME_MESSAGE]
    assert error(validate_group_name, name) == expected


def test_it_limits_group_names_to_128_characters() -> None:
    assert error(validate_group_name, "g" * 128) is None
    assert error(validate_group_name, "g" * 129) == [GROUP_NAME_MESSAGE]


def test_it_finds_names_duplicated_ignoring_case() -> None:
    names = ["Alice", "bob", "alice", "carol", "ALICE", "bob", "dave"]
    assert duplicate_names(names) == {"Alice", "alice", "ALICE", "bob"}
    assert duplicate_names(iter(["alice", "bob"])) == set()


@given(st.lists(st.sampled_from(["alice", "Alice", "bob", "BOB", "carol", "dave"])))
def test_it_reports_a_name_exactly_when_another_row_has_it_in_any_case(names: list[str]) -> None:
    counts = Counter(name.lower() for name in names)
    assert duplicate_names(names) == {name for name in names if counts[name.lower()] >= 2}


# --- Paths -------------------------------------------------------------------------------


@given(st.text() | st.text("/a~! \x7fé", max_size=20) | st.text("/a", min_size=505, max_size=520))
def test_it_accepts_exactly_the_paths_the_aws_pattern_accepts(path: str) -> None:
    valid = len(path) <= 512 and AWS_PATH.fullmatch(path) is not None
    assert error(validate_path, path) == (None if valid else [PATH_MESSAGE])


@pytest.mark.parametrize(
    ("path", "valid"),
    [
        ("/", True),
        ("/engineering/", True),
        ("/division_abc/subdivision_xyz/", True),
        ("/../", True),
        ("///", True),
        ("/" + "p" * 510 + "/", True),
        ("/" + "p" * 511 + "/", False),
        ("", False),
        ("//", False),
        ("/engineering", False),
        ("engineering/", False),
        ("/two words/", False),
        ("/é/", False),
        ("/\x7f/", False),
        ("/\n", False),
    ],
)
def test_it_checks_paths_like_iam(path: str, valid: bool) -> None:
    assert (error(validate_path, path) is None) is valid


# --- Tags (B3) ---------------------------------------------------------------------------

TAG_CHARACTERS = st.characters(categories=["L", "Z", "N"]) | st.sampled_from("_.:/=+-@")
# Everything else: control, format, surrogate, private use, marks, punctuation, symbols.
NON_TAG_CHARACTERS = st.characters(categories=["C", "M", "P", "S"], exclude_characters="_.:/=+-@")
TAG_KEYS = st.text(TAG_CHARACTERS, min_size=1, max_size=128).filter(lambda key: not key.casefold().startswith("aws:"))
TAG_VALUES = st.text(TAG_CHARACTERS, max_size=256)


@given(TAG_KEYS)
def test_it_accepts_keys_of_letters_separators_numbers_and_the_tag_punctuation(key: str) -> None:
    validate_tag_key(key)


@given(TAG_VALUES)
def test_it_accepts_values_of_letters_separators_numbers_and_the_tag_punctuation(value: str) -> None:
    validate_tag_value(value)


@given(st.text(TAG_CHARACTERS, max_size=20), NON_TAG_CHARACTERS, st.text(TAG_CHARACTERS, max_size=20))
def test_it_rejects_any_other_character_in_a_key_or_a_value(before: str, bad: str, after: str) -> None:
    text = before + bad + after
    messages = error(validate_tag_key, text)
    assert messages is not None
    assert TAG_KEY_CHARACTERS_MESSAGE in messages
    assert error(validate_tag_value, text) == [TAG_VALUE_CHARACTERS_MESSAGE]


@pytest.mark.parametrize(
    "key", ["Cost center", "Équipe", "部署", "٣", "a_b.c:d/e=f+g-h@i", "\u00a0nbsp", "aws", "awsx:", "x:aws:"]
)
def test_it_accepts_these_keys(key: str) -> None:
    assert error(validate_tag_key, key) is None


@pytest.mark.parametrize(
    ("key", "messages"),
    [
        ("", [TAG_KEY_EMPTY_MESSAGE]),
        ("k" * 128, None),
        ("k" * 129, [TAG_KEY_LENGTH_MESSAGE]),
        ("aws:team", [TAG_AWS_PREFIX_MESSAGE]),
        ("AWS:team", [TAG_AWS_PREFIX_MESSAGE]),
        ("Aws:", [TAG_AWS_PREFIX_MESSAGE]),
        ("awſ:", [TAG_AWS_PREFIX_MESSAGE]),  # long s: reserved too, to be safe
        ("team!", [TAG_KEY_CHARACTERS_MESSAGE]),
        ("e\u0301quipe", [TAG_KEY_CHARACTERS_MESSAGE]),  # a combining accent is a mark, not a letter
        ("a\tb", [TAG_KEY_CHARACTERS_MESSAGE]),
        ("aws:" + "!" * 130, [TAG_KEY_LENGTH_MESSAGE, TAG_KEY_CHARACTERS_MESSAGE, TAG_AWS_PREFIX_MESSAGE]),
    ],
)
def test_it_gives_every_reason_a_key_is_refused(key: str, messages: list[str] | None) -> None:
    assert error(validate_tag_key, key) == messages


@pytest.mark.parametrize(
    ("value", "messages"),
    [
        ("", None),
        ("aws:allowed in a value", None),
        ("v" * 256, None),
        ("v" * 257, [TAG_VALUE_LENGTH_MESSAGE]),
        ("50%", [TAG_VALUE_CHARACTERS_MESSAGE]),
        ("🙂" * 257, [TAG_VALUE_LENGTH_MESSAGE, TAG_VALUE_CHARACTERS_MESSAGE]),
    ],
)
def test_it_gives_every_reason_a_value_is_refused(value: str, messages: list[str] | None) -> None:
    assert error(validate_tag_value, value) == messages


def test_it_accepts_50_tags_and_not_51() -> None:
    tags = [(f"key{i}", f"value{i}") for i in range(51)]
    assert not validate_tags(tags[:50])
    errors = validate_tags(tags)
    assert errors and errors.rows == {} and errors.overall == [TAG_LIMIT_MESSAGE]


def test_it_keeps_one_tag_of_a_new_user_and_its_prefix_for_the_console() -> None:
    tags = [(f"key{i}", "") for i in range(MAX_TAGS)]
    assert not validate_tags(tags[:MAX_NEW_USER_TAGS], new_user=True)
    assert validate_tags(tags, new_user=True).overall == [NEW_USER_TAG_LIMIT_MESSAGE]
    assert error(validate_tag_key, "IAMConsole:created-by") == [TAG_CONSOLE_PREFIX_MESSAGE]
    assert error(validate_tag_key, "iamconsole") is None


def test_it_refuses_keys_that_differ_only_by_case_on_the_later_rows() -> None:
    errors = validate_tags([("Env", "prod"), ("team", "a"), ("env", "dev"), ("ENV", ""), ("Team", "b")])
    assert errors.rows == {
        2: {"key": [TAG_DUPLICATE_KEY_MESSAGE]},
        3: {"key": [TAG_DUPLICATE_KEY_MESSAGE]},
        4: {"key": [TAG_DUPLICATE_KEY_MESSAGE]},
    }
    assert errors.overall == []


def test_it_puts_each_tag_error_on_its_row_and_field() -> None:
    errors = validate_tags([("ok", ""), ("", "v"), ("aws:x", "50%"), ("ok", "v" * 257), ("", "")])
    assert errors.rows == {
        1: {"key": [TAG_KEY_EMPTY_MESSAGE]},
        2: {"key": [TAG_AWS_PREFIX_MESSAGE], "value": [TAG_VALUE_CHARACTERS_MESSAGE]},
        3: {"key": [TAG_DUPLICATE_KEY_MESSAGE], "value": [TAG_VALUE_LENGTH_MESSAGE]},
        4: {"key": [TAG_KEY_EMPTY_MESSAGE]},
    }


@given(st.lists(st.tuples(TAG_KEYS, TAG_VALUES), max_size=50, unique_by=lambda tag: tag[0].casefold()))
def test_it_accepts_any_set_of_up_to_50_valid_tags_with_distinct_keys(tags: list[tuple[str, str]]) -> None:
    assert not validate_tags(tags)


# --- Passwords (B4) ----------------------------------------------------------------------

POLICIES = st.builds(
    PasswordPolicy,
    minimum_length=st.integers(6, 128),
    require_uppercase=st.booleans(),
    require_lowercase=st.booleans(),
    require_numbers=st.booleans(),
    require_symbols=st.booleans(),
) | st.just(DEFAULT)
PASSWORD_ALPHABET = string.ascii_letters[::5] + "0927" + SYMBOLS[::2] + "~., \t\néÿ\x00ā🙂"


@given(POLICIES, st.text(PASSWORD_ALPHABET, max_size=20) | st.text(min_size=100, max_size=140))
def test_it_lists_exactly_the_requirements_a_password_misses(policy: PasswordPolicy, password: str) -> None:
    # An independent oracle: str methods and the API regex where validators.py uses ranges.
    kinds = {
        UPPERCASE_MESSAGE: any(c.isascii() and c.isupper() for c in password),
        LOWERCASE_MESSAGE: any(c.isascii() and c.islower() for c in password),
        NUMBER_MESSAGE: any(c.isascii() and c.isdigit() for c in password),
        SYMBOL_MESSAGE: any(c in SYMBOLS.split() for c in password),
    }
    required = {
        UPPERCASE_MESSAGE: policy.require_uppercase,
        LOWERCASE_MESSAGE: policy.require_lowercase,
        NUMBER_MESSAGE: policy.require_numbers,
        SYMBOL_MESSAGE: policy.require_symbols,
    }
    too_short = len(password) < policy.minimum_length
    expected = [f"Must be at least {policy.minimum_length} characters long"] * too_short
    expected += [message for message, present in kinds.items() if required[message] and not present]
    expected += [THREE_OF_FOUR_MESSAGE] * (policy.requires_three_of_four and sum(kinds.values()) < 3)
    expected += [PASSWORD_TOO_LONG_MESSAGE] * (len(password) > 128)
    expected += [PASSWORD_CHARACTERS_MESSAGE] * (bool(password) and not AWS_PASSWORD.fullmatch(password))
    assert password_problems(password, policy) == expected


@pytest.mark.parametrize(
    ("password", "problems"),
    [
        ("abc", ["Must be at least 8 characters long", THREE_OF_FOUR_MESSAGE]),
        ("abcdefgh", [THREE_OF_FOUR_MESSAGE]),
        ("abcdefg1", [THREE_OF_FOUR_MESSAGE]),
        ("abcdefG1", []),
        ("abcdef!1", []),
        ("ABCDEF!1", []),
        ("abcdefG'", []),  # the AWS symbol set includes the apostrophe
        ("abcdefG~", [THREE_OF_FOUR_MESSAGE]),  # ~ is not in it
        ("", ["Must be at least 8 characters long", THREE_OF_FOUR_MESSAGE]),
        ("Passwörd1\tÿ", []),  # Latin-1, and a tab
        ("Passwōrd1!", [PASSWORD_CHARACTERS_MESSAGE]),  # ō is U+014D
        ("Passwārd1!", [PASSWORD_CHARACTERS_MESSAGE]),
        ("Password1!🙂", [PASSWORD_CHARACTERS_MESSAGE]),
        ("Password1!\x00", [PASSWORD_CHARACTERS_MESSAGE]),
        ("Aa1!" * 32, []),
        ("Aa1!" * 32 + "x", [PASSWORD_TOO_LONG_MESSAGE]),
    ],
)
def test_it_checks_passwords_against_the_iam_default_policy(password: str, problems: list[str]) -> None:
    assert password_problems(password, DEFAULT) == problems


def test_it_checks_each_requirement_of_a_custom_policy() -> None:
    strict = PasswordPolicy(
        minimum_length=12,
        require_uppercase=True,
        require_lowercase=True,
        require_numbers=True,
        require_symbols=True,
    )
    assert password_problems("password", strict) == [
        "Must be at least 12 characters long",
        UPPERCASE_MESSAGE,
        NUMBER_MESSAGE,
        SYMBOL_MESSAGE,
    ]
    assert password_problems("PASSWORD1234", strict) == [LOWERCASE_MESSAGE, SYMBOL_MESSAGE]
    assert password_problems("Password123|", strict) == []
    assert password_problems("abcdef", PasswordPolicy(minimum_length=6)) == []  # no 3-of-4 in a custom policy


def test_it_states_the_policy_in_the_console_words() -> None:
    assert password_requirements(DEFAULT) == ["Must be at least 8 characters long", THREE_OF_FOUR_MESSAGE]
    assert THREE_OF_FOUR_MESSAGE.endswith("symbols ! @ # $ % ^ & * ( ) _ + - (hyphen) = [ ] { } | '")
    assert password_requirements(PasswordPolicy(minimum_length=14, require_numbers=True)) == [
        "Must be at least 14 characters long",
        "Must include at least one number (0-9)",
    ]
    assert UPPERCASE_MESSAGE == "Must include at least one uppercase letter from the Latin alphabet (A-Z)"
