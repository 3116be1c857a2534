"""Read the Terraform files the console writes (users/plans/terraform.py) as tests see them:
parsed by python-hcl2, with string literals decoded here, independently of the writer.

`resources(text)` maps (type, name) to the block's attributes: strings decoded to their value,
references as `Ref("aws_iam_user.x.name")`, lists, maps and nested blocks as Python values. A
string that would be read as a template (an unescaped `${` or `%{`) fails the test."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import hcl2

_OPTIONS = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, preserve_heredocs=False)
# HCL's string tokens, longest first, scanned left to right as HCL does: "$$${" is "$" then "$${".
_TOKEN = re.compile(r"\\u[0-9a-fA-F]{4}|\\U[0-9a-fA-F]{8}|\\.|\$\$\{|%%\{|\$\{|%\{|.", re.DOTALL)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


@dataclass(frozen=True)
class Ref:
    """A reference expression, e.g. aws_iam_user.arthur.name."""

    expression: str


def literal(raw: str) -> str:
    """The value of a quoted HCL string literal as python-hcl2 gives it (quotes included)."""
    assert raw.startswith('"') and raw.endswith('"') and len(raw) >= 2, raw
    value = []
    for token in _TOKEN.findall(raw[1:-1]):
        if token in ("${", "%{"):
            raise AssertionError(f"a template sequence in {raw}")
        if token in ("$${", "%%{"):
            value.append(token[1:])
        elif token.startswith(("\\u", "\\U")):
            value.append(chr(int(token[2:], 16)))
        elif token.startswith("\\"):
            value.append(_ESCAPES[token[1]])
        else:
            value.append(token)
    return "".join(value)


def _value(raw: Any) -> Any:
    if isinstance(raw, str):
        if raw.startswith('"'):
            return literal(raw)
        # aws_iam_user.x.name, "${…}" as python-hcl2 writes it; a bare name in a list as is.
        match = re.fullmatch(r"\$\{([A-Za-z_][\w.-]*)\}|([A-Za-z_][\w-]*)", raw)
        assert match, f"neither a string nor a reference: {raw}"
        return Ref(match.group(1) or match.group(2))
    if isinstance(raw, list):
        return [_value(item) for item in raw]
    if isinstance(raw, dict):
        return {_value(key) if key.startswith('"') else key: _value(item) for key, item in raw.items()}
    return raw


def resources(text: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The file's resources by (type, name), in file order; a duplicate fails the test."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    data = hcl2.loads(text, serialization_options=_OPTIONS)
    assert set(data) <= {"resource"}, f"blocks other than resources: {sorted(data)}"
    for entry in data.get("resource", []):
        for resource_type, named in entry.items():
            for name, body in named.items():
                key = (literal(resource_type), literal(name))
                assert key not in found, f"two resources {key}"
                found[key] = _value(body)
    return found
