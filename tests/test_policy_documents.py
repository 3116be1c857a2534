"""The inline policy checks of the user details page (users/policy_documents.py). moto takes any
policy document, so the validator is the oracle for what IAM accepts: the IAM patterns and
examples here are written independently of the module."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from users.policy_documents import (
    CONDITION_MESSAGE,
    DOCUMENT_EMPTY_MESSAGE,
    DOCUMENT_LENGTH_MESSAGE,
    DOCUMENT_NESTING_MESSAGE,
    EFFECT_MESSAGE,
    ID_MESSAGE,
    MAX_USER_INLINE_POLICY_CHARS,
    NOT_AN_OBJECT_MESSAGE,
    POLICY_NAME_EMPTY_MESSAGE,
    POLICY_NAME_MAX_LENGTH,
    POLICY_NAME_MESSAGE,
    SID_MESSAGE,
    STATEMENT_MESSAGE,
    STATEMENT_REQUIRED_MESSAGE,
    VERSION_MESSAGE,
    PolicyCheck,
    policy_size,
    validate_inline_policy,
)

# PutUserPolicy's PolicyDocument pattern, as the IAM API reference writes it.
AWS_DOCUMENT = re.compile("[\u0009\u000a\u000d\u0020-\u00ff]+")
STATEMENT = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}
MINIMAL = json.dumps({"Version": "2012-10-17", "Statement": [STATEMENT]}, indent=2)
PRINCIPAL_MESSAGE = (
    "Statement 1: Principal is not allowed in an identity-based policy "
    "(it belongs in resource policies and trust policies)."
)


def check(document: str, name: str = "MyPolicy", existing: dict[str, str] | None = None) -> PolicyCheck:
    return validate_inline_policy(name, document, existing=existing or {})


def errors(policy: Any) -> list[str]:
    """The document errors of `policy` written as JSON."""
    return check(json.dumps(policy, indent=4)).document_errors


def with_statement(**changes: Any) -> dict[str, Any]:
    """A policy of one statement: STATEMENT with `changes`, None removing an element."""
    statement = {**STATEMENT, **changes}
    return {"Version": "2012-10-17", "Statement": [{k: v for k, v in statement.items() if v is not None}]}


def policy_of_size(size: int) -> str:
    """A valid one-statement policy of exactly `size` non-whitespace characters."""
    head = '{ "Statement": { "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/'
    tail = '" } }'
    return head + "k" * (size - policy_size(head + tail)) + tail


def size_message(total: str) -> str:
    return f"The user's inline policies would total {total} characters (whitespace not counted); the limit is 2,048."


# --- Valid documents ---------------------------------------------------------------------


def test_it_accepts_a_minimal_policy() -> None:
    result = check(MINIMAL)
    assert result == PolicyCheck([], [], policy_size(MINIMAL), policy_size(MINIMAL), result.normalized)
    assert result.is_valid
    assert result.normalized == json.dumps(json.loads(MINIMAL), separators=(",", ":"))


READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "ReadOnly",
            "Effect": "Allow",
            "Action": ["s3:Get*", "s3:List*", "ec2:Describe*", "iam:Get*", "iam:List*", "cloudwatch:Describe*"],
            "Resource": "*",
        }
    ],
}
FORCE_MFA = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowManageOwnPasswords",
            "Effect": "Allow",
            "Action": ["iam:ChangePassword", "iam:GetUser"],
            "Resource": "arn:aws:iam::*:user/${aws:username}",
        },
        {
            "Sid": "DenyAllExceptListedIfNoMFA",
            "Effect": "Deny",
            "NotAction": ["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "sts:GetSessionToken"],
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        },
    ],
}
CONDITIONS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::examplebucket",
            "Condition": {
                "StringEquals": {"s3:prefix": ["home/", "home/${aws:username}/"], "aws:RequestedRegion": "eu-west-1"},
                "Bool": {"aws:SecureTransport": True},
                "IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]},
                "NumericLessThanEquals": {"s3:max-keys": 10},
            },
        },
        {
            "Effect": "Deny",
            "Action": "ec2:RunInstances",
            "NotResource": ["arn:aws:ec2:*:*:instance/*", "arn:aws-cn:ec2:cn-north-1:123456789012:volume/*"],
            "Condition": {
                "ForAnyValue:StringLike": {"aws:TagKeys": "temp*"},
                "Null": {"aws:RequestTag/team": "true"},
                "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
            },
        },
    ],
}
OLD_VERSION = {
    "Version": "2008-10-17",
    "Id": "Queue1Policy",
    "Statement": {"Effect": "Allow", "Action": "sqs:Send?essage", "Resource": "arn:aws:sqs:us-east-1:123456789012:q1"},
}


@pytest.mark.parametrize("policy", [READ_ONLY, FORCE_MFA, CONDITIONS, OLD_VERSION, {"Statement": STATEMENT}])
def test_it_accepts_policies_like_the_aws_managed_ones(policy: dict[str, Any]) -> None:
    result = check(json.dumps(policy, indent=2))
    assert (result.name_errors, result.document_errors) == ([], [])
    assert json.loads(result.normalized) == policy


# --- Grammar -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "messages"),
    [
        ([STATEMENT], [NOT_AN_OBJECT_MESSAGE]),
        ("Allow", [NOT_AN_OBJECT_MESSAGE]),
        ({"Version": "2012-10-17"}, [STATEMENT_REQUIRED_MESSAGE]),
        ({"Statement": []}, [STATEMENT_MESSAGE]),
        ({"Statement": "Allow"}, [STATEMENT_MESSAGE]),
        ({"Statement": [STATEMENT, "Deny"]}, ["Statement 2 must be an object."]),
        ({"Version": "2012-10-18", "Statement": STATEMENT}, [VERSION_MESSAGE]),
        ({"Version": 2012, "Statement": STATEMENT}, [VERSION_MESSAGE]),
        ({"Id": 7, "Statement": STATEMENT}, [ID_MESSAGE]),
        (
            {"Statement": STATEMENT, "Statements": []},
            ['Unknown element "Statements": a policy can contain only Version, Id and Statement.'],
        ),
        (
            {"Statement": [{**STATEMENT, "Sid": "A"}, {**STATEMENT, "Sid": "B"}, {**STATEMENT, "Sid": "A"}]},
            ['Statement 3: Sid "A" is already used by statement 1; each Sid must be unique.'],
        ),
    ],
)
def test_it_checks_the_policy_elements(policy: Any, messages: list[str]) -> None:
    assert errors(policy) == messages


def action_message(element: str, value: str) -> str:
    return f'Statement 1: {element} "{value}" must be "*" or service:action, such as "s3:GetObject" or "iam:List*".'


def resource_message(element: str, value: str) -> str:
    return f'Statement 1: {element} "{value}" must be "*" or an ARN, such as "arn:aws:s3:::my-bucket/*".'


CONDITION_VALUE_MESSAGE = (
    'Statement 1: Condition StringEquals "aws:username" must be a string, a number, true or false, '
    "or a non-empty list of them."
)


@pytest.mark.parametrize(
    ("changes", "messages"),
    [
        ({"Effect": "Maybe"}, [f"Statement 1: {EFFECT_MESSAGE}"]),
        ({"Effect": "allow"}, [f"Statement 1: {EFFECT_MESSAGE}"]),
        ({"Effect": None}, ['Statement 1: Effect is required: "Allow" or "Deny".']),
        ({"Action": None}, ["Statement 1: Action or NotAction is required."]),
        ({"NotAction": "iam:*"}, ["Statement 1: use Action or NotAction, not both."]),
        ({"Resource": None}, ["Statement 1: Resource or NotResource is required."]),
        ({"NotResource": "*"}, ["Statement 1: use Resource or NotResource, not both."]),
        ({"Action": []}, ["Statement 1: Action must be a string or a non-empty list of strings."]),
        ({"Action": ["s3:GetObject", 3]}, ["Statement 1: Action must be a string or a non-empty list of strings."]),
        ({"Action": "s3"}, [action_message("Action", "s3")]),
        ({"Action": "S3:GetObject"}, [action_message("Action", "S3:GetObject")]),
        ({"Action": ["s3:*", "s3:Get Object"]}, [action_message("Action", "s3:Get Object")]),
        ({"Action": None, "NotAction": "*:*"}, [action_message("NotAction", "*:*")]),
        ({"Resource": "bucket"}, [resource_message("Resource", "bucket")]),
        ({"Resource": "arn:aws:s3"}, [resource_message("Resource", "arn:aws:s3")]),
        ({"Resource": None, "NotResource": "arn:awz:s3:::b"}, [resource_message("NotResource", "arn:awz:s3:::b")]),
        ({"Resource": []}, ["Statement 1: Resource must be a string or a non-empty list of strings."]),
        ({"Resource": {"arn": "*"}}, ["Statement 1: Resource must be a string or a non-empty list of strings."]),
        ({"Principal": {"AWS": "*"}}, [PRINCIPAL_MESSAGE]),
        ({"NotPrincipal": "*"}, [PRINCIPAL_MESSAGE.replace("Principal", "NotPrincipal", 1)]),
        (
            {"Actions": "s3:*"},
            [
                'Statement 1: unknown element "Actions": a statement can contain only Sid, Effect, Action, '
                "NotAction, Resource, NotResource and Condition."
            ],
        ),
        ({"Sid": "my statement"}, [f"Statement 1: {SID_MESSAGE}"]),
        ({"Sid": 7}, [f"Statement 1: {SID_MESSAGE}"]),
        ({"Condition": "yes"}, [f"Statement 1: {CONDITION_MESSAGE}"]),
        (
            {"Condition": {"StringEqual": {"aws:username": "bob"}}},
            [
                'Statement 1: Condition operator "StringEqual" is not one IAM knows, such as StringEquals, '
                "StringLike, NumericLessThan, DateGreaterThan, Bool, IpAddress, ArnLike or Null."
            ],
        ),
        (
            {"Condition": {"NullIfExists": {"aws:username": "true"}}},
            [
                'Statement 1: Condition operator "NullIfExists" is not one IAM knows, such as StringEquals, '
                "StringLike, NumericLessThan, DateGreaterThan, Bool, IpAddress, ArnLike or Null."
            ],
        ),
        (
            {"Condition": {"StringEquals": "bob"}},
            ["Statement 1: Condition StringEquals must be an object of condition keys and values."],
        ),
        ({"Condition": {"StringEquals": {"aws:username": None}}}, [CONDITION_VALUE_MESSAGE]),
        ({"Condition": {"StringEquals": {"aws:username": []}}}, [CONDITION_VALUE_MESSAGE]),
        ({"Condition": {"StringEquals": {"aws:username": [{"is": "bob"}]}}}, [CONDITION_VALUE_MESSAGE]),
        (
            {"Condition": {"StringEquals": {"": "bob"}}},
            ["Statement 1: Condition StringEquals has an empty condition key."],
        ),
    ],
)
def test_it_checks_each_statement_element(changes: dict[str, Any], messages: list[str]) -> None:
    assert errors(with_statement(**changes)) == messages


def test_it_collects_every_grammar_error_in_document_order() -> None:
    document = """{
        "Statement": [
            {"Sid": "Read", "Effect": "Allow", "Action": "s3", "Principal": "*"},
            {"Sid": "Read", "Effect": "Permit", "Action": "*", "Resource": ["*", "bucket"],
             "Condition": {"Bool": {"aws:SecureTransport": null}}},
            42
        ],
        "Version": "2012-10-17",
        "Colour": "blue"
    }"""
    assert check(document).document_errors == [
        'Unknown element "Colour": a policy can contain only Version, Id and Statement.',
        action_message("Action", "s3"),
        PRINCIPAL_MESSAGE,
        "Statement 1: Resource or NotResource is required.",
        'Statement 2: Sid "Read" is already used by statement 1; each Sid must be unique.',
        f"Statement 2: {EFFECT_MESSAGE}",
        resource_message("Resource", "bucket").replace("Statement 1", "Statement 2"),
        'Statement 2: Condition Bool "aws:SecureTransport" must be a string, a number, true or false, '
        "or a non-empty list of them.",
        "Statement 3 must be an object.",
    ]


def test_it_refuses_keys_given_twice_in_an_object() -> None:
    document = """{
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Allow", "Effect": "Deny", "Action": "s3:*", "Resource": "*",
            "Condition": {
                "StringEquals": {"aws:username": "bob", "aws:username": "carol"},
                "StringEquals": {"aws:username": "dave"}
            }
        },
        "Version": "2012-10-17"
    }"""
    assert check(document).document_errors == [
        '"Version" appears more than once.',
        'Statement 1: "Effect" appears more than once.',
        'Statement 1: Condition has "StringEquals" more than once.',
    ]
    document = document.replace('"StringEquals": {"aws:username": "dave"}', '"Bool": {"a": true}')
    assert check(document).document_errors == [
        '"Version" appears more than once.',
        'Statement 1: "Effect" appears more than once.',
        'Statement 1: Condition StringEquals has "aws:username" more than once.',
    ]


# --- Characters and JSON syntax ----------------------------------------------------------


def test_it_gives_the_line_and_column_of_a_json_error() -> None:
    document = '{\n  "Version": "2012-10-17"\n  "Statement": []\n}'
    assert check(document).document_errors == [
        "The policy is not valid JSON: Expecting ',' delimiter (line 3, column 3)."
    ]
    assert check('{"Statement": [{"Effect": "Allow",}]}').document_errors == [
        "The policy is not valid JSON: Expecting property name enclosed in double quotes (line 1, column 35)."
    ]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("", DOCUMENT_EMPTY_MESSAGE),
        (" \n\t", DOCUMENT_EMPTY_MESSAGE),
        (MINIMAL + " {}", "The policy is not valid JSON: Extra data (line 10, column 3)."),
        ('{"Sid": "a\tb"}', "The policy is not valid JSON: Invalid control character at (line 1, column 11)."),
        ('{"Statement": NaN}', "The policy is not valid JSON: NaN is not a number JSON allows."),
        ('{"Statement": -Infinity}', "The policy is not valid JSON: -Infinity is not a number JSON allows."),
        ('{"Statement": 1e400}', "The policy has a number too large to use: 1e400."),
        ("[" * 1020 + "]" * 1020, DOCUMENT_NESTING_MESSAGE),  # 2,040 characters: under the quota
    ],
)
def test_it_stops_at_a_syntax_error(document: str, message: str) -> None:
    result = check(document)
    assert (result.document_errors, result.normalized) == ([message], "")


@pytest.mark.parametrize(
    ("character", "shown"),
    [
        ("\u201c", '"\u201c" (U+201C)'),
        ("\u0101", '"\u0101" (U+0101)'),
        ("\x00", "(U+0000)"),
        ("\U0001f600", '"\U0001f600" (U+1F600)'),
    ],
)
def test_it_refuses_characters_beyond_latin_1(character: str, shown: str) -> None:
    document = MINIMAL.replace("bucket/*", f"bucket/{character}*")
    assert check(document).document_errors == [
        f"The policy contains {shown} at line 7, column 40. "
        "IAM accepts only tabs, line breaks and Latin-1 characters (U+0020 to U+00FF)."
    ]


@given(st.text())
def test_it_accepts_exactly_the_characters_of_the_aws_pattern(text: str) -> None:
    document = json.dumps(with_statement(Resource=f"arn:aws:s3:::bucket/{text}"), ensure_ascii=False)
    refused = check(document).document_errors[:1]
    assert (AWS_DOCUMENT.fullmatch(document) is None) == bool(refused and refused[0].startswith("The policy contains"))


def test_it_accepts_latin_1_and_escapes_of_any_character() -> None:
    assert check(json.dumps(with_statement(Resource="arn:aws:s3:::café/*"), ensure_ascii=False)).is_valid
    escaped = json.dumps(with_statement(Resource="arn:aws:s3:::caf\u00e9/\u2019\U0001f600/*"))
    assert "\\u2019\\ud83d\\ude00" in escaped
    assert check(escaped).is_valid


# --- Size --------------------------------------------------------------------------------


def test_it_counts_every_character_but_whitespace() -> None:
    assert policy_size('{ "Sid" :\t"a b",\r\n}') == 13
    assert policy_size("é\u2019\x0b\x0c") == 4  # only space, tab, CR and LF are whitespace
    assert policy_size(policy_of_size(300)) == 300


def test_it_accepts_2048_characters_and_not_2049() -> None:
    assert MAX_USER_INLINE_POLICY_CHARS == 2048
    fits = check(policy_of_size(2048))
    assert (fits.is_valid, fits.size, fits.total_size) == (True, 2048, 2048)
    too_big = check(policy_of_size(2049))
    assert (too_big.document_errors, too_big.size, too_big.normalized) == ([size_message("2,049")], 2049, "")


def test_it_does_not_count_whitespace_against_the_quota() -> None:
    document = json.dumps(json.loads(policy_of_size(2048)), indent=8)
    assert len(document) > 2100
    assert check(document).is_valid


def test_it_counts_the_users_other_inline_policies() -> None:
    existing = {"Other": policy_of_size(1000), "Third": policy_of_size(500)}
    assert check(policy_of_size(548), existing=existing).total_size == 2048
    assert check(policy_of_size(548), existing=existing).is_valid
    assert check(policy_of_size(549), existing=existing).document_errors == [size_message("2,049")]


def test_it_counts_only_the_new_document_of_a_policy_it_replaces() -> None:
    existing = {"Other": policy_of_size(1000), "Big": policy_of_size(2000)}
    replaced = validate_inline_policy("big", policy_of_size(1048), existing=existing, replacing=True)
    assert (replaced.is_valid, replaced.total_size) == (True, 2048)
    created = validate_inline_policy("BIG", policy_of_size(1048), existing=existing)
    assert (created.document_errors, created.total_size) == ([], 2048)
    assert created.name_errors == ["A policy named Big already exists for this user."]


def test_it_limits_the_document_to_131072_characters_with_whitespace() -> None:
    document = policy_of_size(100) + " " * 131_072
    assert check(document).document_errors == [DOCUMENT_LENGTH_MESSAGE]
    assert check(document[:131_072]).is_valid


# --- Names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "messages"),
    [
        ("", [POLICY_NAME_EMPTY_MESSAGE]),
        ("a" * POLICY_NAME_MAX_LENGTH, []),
        ("a" * (POLICY_NAME_MAX_LENGTH + 1), [POLICY_NAME_MESSAGE]),
        ("Az09_+=,.@-", []),
        ("read only", [POLICY_NAME_MESSAGE]),
        ("café", [POLICY_NAME_MESSAGE]),
        ("s3/read", [POLICY_NAME_MESSAGE]),
        ("read\n", [POLICY_NAME_MESSAGE]),
        ("readonly", ["A policy named ReadOnly already exists for this user."]),
        ("ReadOnly", ["A policy named ReadOnly already exists for this user."]),
    ],
)
def test_it_checks_the_policy_name(name: str, messages: list[str]) -> None:
    result = check(MINIMAL, name=name, existing={"ReadOnly": MINIMAL})
    assert (result.name_errors, result.document_errors) == (messages, [])


def test_it_allows_the_name_of_the_policy_it_replaces() -> None:
    existing = {"ReadOnly": MINIMAL}
    assert validate_inline_policy("READONLY", MINIMAL, existing=existing, replacing=True).is_valid
    assert validate_inline_policy("Fresh", MINIMAL, existing=existing, replacing=True).is_valid
    invalid = validate_inline_policy("read only", MINIMAL, existing=existing, replacing=True)
    assert invalid.name_errors == [POLICY_NAME_MESSAGE]


# --- Normalized output -------------------------------------------------------------------


def test_it_normalizes_to_compact_json_of_iams_characters() -> None:
    document = json.dumps(
        with_statement(Resource="arn:aws:s3:::caf\u00e9/\u2019/*", Condition={"NumericLessThan": {"s3:max-keys": 10}}),
        indent=4,
    )
    normalized = check(document).normalized
    assert normalized == (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",'
        '"Resource":"arn:aws:s3:::café/\\u2019/*","Condition":{"NumericLessThan":{"s3:max-keys":10}}}]}'
    )
    assert AWS_DOCUMENT.fullmatch(normalized)
    assert policy_size(normalized) < check(document).size


def test_it_counts_a_number_normalized_longer_than_written() -> None:
    document = json.dumps(with_statement(Condition={"NumericLessThan": {"s3:max-keys": 0}})).replace(": 0", ": 1e5")
    result = check(document)
    assert '"s3:max-keys":100000.0' in result.normalized
    assert result.size == policy_size(result.normalized) == policy_size(document) + 5


def test_it_normalizes_nothing_when_the_document_has_errors() -> None:
    assert check(json.dumps(with_statement(Effect="Maybe"))).normalized == ""
    assert check(MINIMAL, name="").normalized != ""


# --- Properties --------------------------------------------------------------------------

LATIN_1_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=12)
ACTIONS = st.just("*") | st.from_regex(r"[a-z0-9-]{1,8}:[A-Za-z0-9*?]{1,12}", fullmatch=True)
RESOURCES = st.just("*") | st.builds(
    lambda partition, service, region, account, rest: f"arn:{partition}:{service}:{region}:{account}:{rest}",
    st.sampled_from(["aws", "aws-cn", "aws-us-gov"]),
    st.from_regex(r"[a-z0-9-]{1,10}", fullmatch=True),
    st.sampled_from(["", "*", "eu-west-1"]),
    st.sampled_from(["", "*", "123456789012"]),
    LATIN_1_TEXT.filter(bool) | st.text(st.characters(exclude_categories=["Cc", "Cs"]), min_size=1, max_size=5),
)
OPERATORS = st.sampled_from(
    ["StringEquals", "StringNotLikeIfExists", "ForAllValues:StringLike", "NumericGreaterThanEquals",
     "DateLessThan", "Bool", "BoolIfExists", "IpAddress", "ArnLike", "ForAnyValue:ArnNotEquals", "Null"]
)  # fmt: skip
SCALARS = LATIN_1_TEXT | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
CONDITIONS_ = st.dictionaries(
    OPERATORS,
    st.dictionaries(
        LATIN_1_TEXT.filter(bool), SCALARS | st.lists(SCALARS, min_size=1, max_size=3), min_size=1, max_size=2
    ),
    max_size=2,
)


def one_or_list(values: st.SearchStrategy[str]) -> st.SearchStrategy[str | list[str]]:
    return values | st.lists(values, min_size=1, max_size=3)


@st.composite
def statements(draw: st.DrawFn, sid: str | None) -> dict[str, Any]:
    statement: dict[str, Any] = {} if sid is None else {"Sid": sid}
    statement["Effect"] = draw(st.sampled_from(["Allow", "Deny"]))
    statement[draw(st.sampled_from(["Action", "NotAction"]))] = draw(one_or_list(ACTIONS))
    statement[draw(st.sampled_from(["Resource", "NotResource"]))] = draw(one_or_list(RESOURCES))
    if condition := draw(CONDITIONS_):
        statement["Condition"] = condition
    return statement


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 3))
    sid = st.from_regex(r"[A-Za-z0-9]{0,8}", fullmatch=True)
    sids = draw(st.lists(sid, min_size=count, max_size=count, unique=True))
    body = [draw(statements(sid if draw(st.booleans()) else None)) for sid in sids]
    policy: dict[str, Any] = {"Statement": body[0] if count == 1 and draw(st.booleans()) else body}
    if version := draw(st.sampled_from([None, "2012-10-17", "2008-10-17"])):
        policy = {"Version": version, **policy}
    return policy


@given(policies(), st.sampled_from([None, 0, 2, "\t"]), st.booleans())
def test_it_accepts_any_policy_built_from_valid_parts(policy: dict[str, Any], indent: Any, ascii_only: bool) -> None:
    document = json.dumps(policy, indent=indent, ensure_ascii=False)
    if ascii_only or not AWS_DOCUMENT.fullmatch(document):  # beyond Latin-1: only as escapes
        document = json.dumps(policy, indent=indent)
    result = check(document)
    size = policy_size(document)
    assert result.name_errors == []
    assert result.document_errors == ([] if size <= 2048 else [size_message(f"{size:,}")])
    if result.is_valid:
        assert json.loads(result.normalized) == policy
        assert AWS_DOCUMENT.fullmatch(result.normalized)
        assert policy_size(result.normalized) <= result.size == result.total_size == size
