"""The rules of a user's inline policies, for the "Create inline policy" JSON editor of the user
details page (Permissions tab), as pure functions: no I/O, no database.

moto accepts almost any policy document, so `validate_inline_policy` is the oracle: a document
it accepts must never get `MalformedPolicyDocument` or `LimitExceeded` back from IAM. It checks
the policy name, the document's characters, its JSON syntax, the grammar of an identity-based
policy and the user's quota of inline policy characters. Stricter than IAM is safe; laxer is not.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# --- Quotas and lengths (IAM quotas page, PutUserPolicy) ---------------------------------

# The aggregate of all of a user's inline policies, whitespace not counted.
MAX_USER_INLINE_POLICY_CHARS = 2048
POLICY_NAME_MAX_LENGTH = 128
# PutUserPolicy's own limit on PolicyDocument, whitespace included.
POLICY_DOCUMENT_MAX_LENGTH = 131072

# --- Characters --------------------------------------------------------------------------

# IAM's `[\w+=,.@-]+` with Java's ASCII `\w` (see users/validators.py).
POLICY_NAME_RE = re.compile(rf"[A-Za-z0-9_+=,.@-]{{1,{POLICY_NAME_MAX_LENGTH}}}", re.ASCII)
# What PutUserPolicy's `[\u0009\u000A\u000D\u0020-\u00FF]+` refuses.
FORBIDDEN_CHARACTER_RE = re.compile(r"[^\t\n\r\x20-\xFF]")
WHITESPACE = " \t\r\n"

POLICY_NAME_EMPTY_MESSAGE = "Enter a policy name."
POLICY_NAME_MESSAGE = (
    f"The policy name can have up to {POLICY_NAME_MAX_LENGTH} characters. "
    "Valid characters: A-Z, a-z, 0-9, and + = , . @ _ - (hyphen)"
)
DOCUMENT_EMPTY_MESSAGE = "Enter a policy document."
DOCUMENT_LENGTH_MESSAGE = (
    f"The policy document can have up to {POLICY_DOCUMENT_MAX_LENGTH:,} characters, whitespace included."
)
DOCUMENT_NESTING_MESSAGE = "The policy is not valid JSON: it is nested too deeply."
NOT_AN_OBJECT_MESSAGE = 'The policy must be a JSON object: {"Version": ..., "Statement": [...]}.'

# --- Grammar of an identity-based policy -------------------------------------------------

POLICY_VERSIONS = ("2012-10-17", "2008-10-17")
POLICY_ELEMENTS = ("Version", "Id", "Statement")
STATEMENT_ELEMENTS = ("Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition")
PRINCIPAL_ELEMENTS = ("Principal", "NotPrincipal")
EFFECTS = ("Allow", "Deny")
SID_RE = re.compile(r"[A-Za-z0-9]*", re.ASCII)
ACTION_RE = re.compile(r"[a-z0-9-]+:[A-Za-z0-9*?]+", re.ASCII)
# IAM refuses "arn:aws:s3" ("must be in ARN format") and unknown partitions such as "arn:awz:…".
ARN_RE = re.compile(r"arn:aws(?:-[a-z]+)*:[^:]+:[^:]*:[^:]*:.+", re.ASCII)
_BASE_CONDITION_OPERATORS = (
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike",
    "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
    "NumericGreaterThan", "NumericGreaterThanEquals",
    "DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals",
    "DateGreaterThan", "DateGreaterThanEquals",
    "Bool", "BinaryEquals", "IpAddress", "NotIpAddress",
    "ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike",
    "Null",
)  # fmt: skip
# IAM refuses any other ("Invalid Condition type"). Every operator but Null has an …IfExists
# form, and any may take a set operator, ForAllValues: or ForAnyValue:.
CONDITION_OPERATORS = frozenset(
    prefix + operator + suffix
    for prefix in ("", "ForAllValues:", "ForAnyValue:")
    for operator in _BASE_CONDITION_OPERATORS
    for suffix in ("", "IfExists")
    if not (operator == "Null" and suffix)
)

VERSION_MESSAGE = 'Version must be "2012-10-17" or "2008-10-17".'
ID_MESSAGE = "Id must be a string."
STATEMENT_MESSAGE = "Statement must be an object or a non-empty list of objects."
STATEMENT_REQUIRED_MESSAGE = "Statement is required: a policy needs at least one statement."
PRINCIPAL_MESSAGE = (
    "{element} is not allowed in an identity-based policy (it belongs in resource policies and trust policies)."
)
EFFECT_MESSAGE = 'Effect must be "Allow" or "Deny".'
SID_MESSAGE = "Sid can contain only letters (A-Z, a-z) and digits (0-9)."
CONDITION_MESSAGE = 'Condition must be an object of condition operators, such as {"StringEquals": {...}}.'


@dataclass(frozen=True, slots=True)
class PolicyCheck:
    """What `validate_inline_policy` found.

    `name_errors` and `document_errors` are for the form's two fields. `size` counts the
    document's non-whitespace characters, `total_size` those of all the user's inline policies
    once this one is put. `normalized` is the document in compact JSON, with every character
    IAM accepts (it is never larger than `size`), or "" when the document has errors.
    """

    name_errors: list[str]
    document_errors: list[str]
    size: int
    total_size: int
    normalized: str

    @property
    def is_valid(self) -> bool:
        """Whether IAM will take the policy: neither the name nor the document has errors."""
        return not (self.name_errors or self.document_errors)


def policy_size(document: str) -> int:
    """The characters of `document` that count towards the quota: all but space, tab, CR, LF."""
    return len(document) - sum(document.count(blank) for blank in WHITESPACE)


def validate_inline_policy(
    name: str, document: str, *, existing: Mapping[str, str], replacing: bool = False
) -> PolicyCheck:
    """Check the inline policy `name` with `document` for a user whose inline policies are
    `existing` (name → document). A name already used, ignoring case, is refused unless
    `replacing`; either way the new document takes the old one's place in the quota, since
    PutUserPolicy overwrites it."""
    folded = name.casefold()
    others = sum(policy_size(text) for other, text in existing.items() if other.casefold() != folded)
    errors, normalized = _document_errors(document)
    # `normalized` may spell a number out in full (1e5 as 100000.0): count whichever is larger.
    size = max(policy_size(document), policy_size(normalized))
    total_size = others + size
    if len(document) > POLICY_DOCUMENT_MAX_LENGTH:
        errors.append(DOCUMENT_LENGTH_MESSAGE)
    if total_size > MAX_USER_INLINE_POLICY_CHARS:
        errors.append(
            f"The user's inline policies would total {total_size:,} characters (whitespace not "
            f"counted); the limit is {MAX_USER_INLINE_POLICY_CHARS:,}."
        )
    return PolicyCheck(_name_errors(name, existing, replacing), errors, size, total_size, "" if errors else normalized)


def _name_errors(name: str, existing: Mapping[str, str], replacing: bool) -> list[str]:
    if not name:
        return [POLICY_NAME_EMPTY_MESSAGE]
    if POLICY_NAME_RE.fullmatch(name) is None:
        return [POLICY_NAME_MESSAGE]
    taken = [other for other in existing if other.casefold() == name.casefold()]
    if taken and not replacing:
        return [f"A policy named {taken[0]} already exists for this user."]
    return []


# --- Characters and JSON syntax ----------------------------------------------------------


class _NumberError(ValueError):
    """A number that JSON does not allow or that IAM cannot take, in a sentence."""


class _Object(dict[str, Any]):
    """A JSON object that remembers which of its keys were given more than once (IAM's parser
    refuses them; Python's keeps the last value)."""

    __slots__ = ("duplicates",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        counts = Counter(key for key, _ in pairs)
        self.duplicates = [key for key, count in counts.items() if count > 1]


def _refuse_constant(name: str) -> float:
    raise _NumberError(f"The policy is not valid JSON: {name} is not a number JSON allows.")


def _parse_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _NumberError(f"The policy has a number too large to use: {text}.")
    return number


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # Python's limit on the digits of an int (thousands)
        raise _NumberError(f"The policy has a number too long to use: {text[:20]}...") from None


def _line_and_column(document: str, index: int) -> tuple[int, int]:
    """1-based, as `json.JSONDecodeError` counts them."""
    return document.count("\n", 0, index) + 1, index - document.rfind("\n", 0, index)


def _document_errors(document: str) -> tuple[list[str], str]:
    """The document's errors, and its compact form when its grammar is valid (else "").
    Forbidden characters and syntax errors stop the check: what follows would be noise."""
    if not document.strip(WHITESPACE):
        return [DOCUMENT_EMPTY_MESSAGE], ""
    forbidden = FORBIDDEN_CHARACTER_RE.search(document)
    if forbidden:
        character = forbidden.group()
        shown = f'"{character}" ' if character.isprintable() else ""
        line, column = _line_and_column(document, forbidden.start())
        return [
            f"The policy contains {shown}(U+{ord(character):04X}) at line {line}, column {column}. "
            "IAM accepts only tabs, line breaks and Latin-1 characters (U+0020 to U+00FF)."
        ], ""
    try:
        policy = json.loads(
            document,
            object_pairs_hook=_Object,
            parse_constant=_refuse_constant,
            parse_float=_parse_float,
            parse_int=_parse_int,
        )
    except json.JSONDecodeError as error:
        return [f"The policy is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."], ""
    except _NumberError as error:
        return [str(error)], ""
    except RecursionError:
        return [DOCUMENT_NESTING_MESSAGE], ""
    errors = _grammar_errors(policy)
    return errors, "" if errors else _compact(policy)


def _compact(policy: _Object) -> str:
    """`policy` as compact JSON that only uses IAM's characters: Latin-1 as it is (an escape
    would count 6 characters), anything beyond as the escape it was written with."""
    text = json.dumps(policy, separators=(",", ":"), ensure_ascii=False)
    return FORBIDDEN_CHARACTER_RE.sub(lambda match: json.dumps(match.group())[1:-1], text)


# --- Grammar -----------------------------------------------------------------------------

# An error's place in the document: (statement number, or 0 for the policy's own elements;
# index of the element within its object). Python's sort is stable, so errors at one place
# keep the order in which they were found.
_Found = list[tuple[tuple[int, int], str]]


def _grammar_errors(policy: Any) -> list[str]:
    """Every way `policy` breaks the grammar of an identity-based policy, by position: the
    policy's own elements first, then statement by statement."""
    if not isinstance(policy, _Object):
        return [NOT_AN_OBJECT_MESSAGE]
    places = {key: (0, index) for index, key in enumerate(policy)}
    found: _Found = [(places[key], f'"{key}" appears more than once.') for key in policy.duplicates]
    for key, value in policy.items():
        if key == "Version" and value not in POLICY_VERSIONS:
            found.append((places[key], VERSION_MESSAGE))
        elif key == "Id" and not isinstance(value, str):
            found.append((places[key], ID_MESSAGE))
        elif key == "Statement":
            found += _statements_errors(value, places[key])
        elif key not in POLICY_ELEMENTS:
            found.append(
                (places[key], f'Unknown element "{key}": a policy can contain only Version, Id and Statement.')
            )
    if "Statement" not in policy:
        found.append(((0, len(policy)), STATEMENT_REQUIRED_MESSAGE))
    return [message for _, message in sorted(found, key=lambda item: item[0])]


def _statements_errors(value: Any, place: tuple[int, int]) -> _Found:
    statements = [value] if isinstance(value, _Object) else value if isinstance(value, list) else []
    if not statements:
        return [(place, STATEMENT_MESSAGE)]
    found: _Found = []
    sids: dict[str, int] = {}
    for number, statement in enumerate(statements, 1):
        found += _statement_errors(number, statement, sids)
    return found


def _statement_errors(number: int, statement: Any, sids: dict[str, int]) -> _Found:
    """The errors of statement `number`; `sids` maps the Sids seen so far to their statement."""
    where = f"Statement {number}"
    if not isinstance(statement, _Object):
        return [((number, 0), f"{where} must be an object.")]
    places = {key: (number, index) for index, key in enumerate(statement)}
    found: _Found = [(places[key], f'{where}: "{key}" appears more than once.') for key in statement.duplicates]
    for key, value in statement.items():
        found += [(places[key], f"{where}: {problem}") for problem in _element_problems(key, value, number, sids)]
    end = (number, len(statement))
    if "Effect" not in statement:
        found.append((end, f'{where}: Effect is required: "Allow" or "Deny".'))
    for element, negated in (("Action", "NotAction"), ("Resource", "NotResource")):
        if element in statement and negated in statement:
            found.append((places[negated], f"{where}: use {element} or {negated}, not both."))
        elif element not in statement and negated not in statement:
            found.append((end, f"{where}: {element} or {negated} is required."))
    return found


def _element_problems(key: str, value: Any, number: int, sids: dict[str, int]) -> list[str]:
    """What is wrong with the element `key` of statement `number`."""
    if key == "Sid":
        if not isinstance(value, str) or SID_RE.fullmatch(value) is None:
            return [SID_MESSAGE]
        if value in sids:
            return [f'Sid "{value}" is already used by statement {sids[value]}; each Sid must be unique.']
        sids[value] = number
        return []
    if key == "Effect":
        return [] if value in EFFECTS else [EFFECT_MESSAGE]
    if key in ("Action", "NotAction"):
        return _values_problems(
            key, value, ACTION_RE, 'must be "*" or service:action, such as "s3:GetObject" or "iam:List*".'
        )
    if key in ("Resource", "NotResource"):
        return _values_problems(key, value, ARN_RE, 'must be "*" or an ARN, such as "arn:aws:s3:::my-bucket/*".')
    if key == "Condition":
        return _condition_problems(value)
    if key in PRINCIPAL_ELEMENTS:
        return [PRINCIPAL_MESSAGE.format(element=key)]
    return [
        f'unknown element "{key}": a statement can contain only Sid, Effect, Action, NotAction, '
        "Resource, NotResource and Condition."
    ]


def _values_problems(key: str, value: Any, pattern: re.Pattern[str], rule: str) -> list[str]:
    """Problems of an Action-like element: a string or a non-empty list of strings, each "*"
    or matching `pattern`."""
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    if not values or not all(isinstance(item, str) for item in values):
        return [f"{key} must be a string or a non-empty list of strings."]
    return [f'{key} "{item}" {rule}' for item in values if item != "*" and pattern.fullmatch(item) is None]


def _is_condition_value(value: Any) -> bool:
    scalar = (str, bool, int, float)
    return isinstance(value, scalar) or (
        isinstance(value, list) and bool(value) and all(isinstance(item, scalar) for item in value)
    )


def _condition_problems(condition: Any) -> list[str]:
    if not isinstance(condition, _Object):
        return [CONDITION_MESSAGE]
    problems = [f'Condition has "{operator}" more than once.' for operator in condition.duplicates]
    for operator, block in condition.items():
        if operator not in CONDITION_OPERATORS:
            problems.append(
                f'Condition operator "{operator}" is not one IAM knows, such as StringEquals, '
                "StringLike, NumericLessThan, DateGreaterThan, Bool, IpAddress, ArnLike or Null."
            )
        if not isinstance(block, _Object):
            problems.append(f"Condition {operator} must be an object of condition keys and values.")
            continue
        problems += [f'Condition {operator} has "{key}" more than once.' for key in block.duplicates]
        for key, value in block.items():
            if not key:
                problems.append(f"Condition {operator} has an empty condition key.")
            elif not _is_condition_value(value):
                problems.append(
                    f'Condition {operator} "{key}" must be a string, a number, true or false, '
                    "or a non-empty list of them."
                )
    return problems
