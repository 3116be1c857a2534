"""The least-privilege IAM policies for the console's own AWS credentials (docs/): each allows
exactly what the gateway can call, no wildcard; the read-only one nothing that changes IAM."""

from __future__ import annotations

import json
import re
from pathlib import Path

import botocore.session
from botocore import xform_name

from users.iam import gateway as gateway_module
from users.iam.gateway import MUTATING

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _gateway_operations() -> dict[str, str]:
    """Every IAM/STS operation the gateway's source (with its mixins, users/iam/*.py) sends, by
    operation name → IAM action."""
    source = "\n".join(path.read_text() for path in Path(gateway_module.__file__).parent.glob("*.py"))
    named = set(re.findall(r'_(?:call|items|pages)\(\s*"([A-Za-z]+)"', source))
    # Direct client calls (the readiness probe's), by their snake_case method names.
    iam = botocore.session.get_session().get_service_model("iam")
    by_method = {xform_name(name): name for name in iam.operation_names}
    named |= {by_method[method] for method in re.findall(r"client\.([a-z_]+)\(", source) if method in by_method}
    return {name: ("sts:" if name == "GetCallerIdentity" else "iam:") + name for name in named}


def _actions(file_name: str) -> list[str]:
    policy = json.loads((DOCS / file_name).read_text())
    assert policy["Version"] == "2012-10-17"
    [statement] = policy["Statement"]
    assert (statement["Effect"], statement["Resource"]) == ("Allow", "*")
    actions: list[str] = statement["Action"]
    return actions


def test_it_allows_exactly_what_the_gateway_calls() -> None:
    operations = _gateway_operations()
    assert len(operations) > 60  # the scan still finds the calls
    actions = _actions("aws-iam-policy.json")
    assert not [action for action in actions if "*" in action]
    assert sorted(actions) == sorted(operations.values())


def test_the_read_only_policy_allows_the_reads_and_no_change() -> None:
    operations = _gateway_operations()
    reads = {action for name, action in operations.items() if name not in MUTATING}
    actions = _actions("aws-iam-policy-readonly.json")
    assert not [action for action in actions if "*" in action]
    assert set(actions) == reads
    assert not {action.partition(":")[2] for action in actions} & MUTATING
