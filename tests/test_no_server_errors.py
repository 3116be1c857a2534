"""No page answers 500 to user input: every URL of the console, with odd path values, odd query
strings and junk forms, for an operator (unit: Django test client, moto's mock_aws)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse

pytestmark = pytest.mark.django_db

# Values for each kind of path parameter: a real one, a missing one, ones IAM could never hold.
PATH_VALUES = {
    "name": ["arthur", "nobody", "bad name!", "x" * 130, "é"],
    "key_id": ["AKIAEXAMPLEEXAMPLE12", "../../etc", "é"],
    "credential_id": ["AKIAEXAMPLEEXAMPLE12", "é"],
    "kind": ["access-key", "ssh-key", "certificate", "service-credential", "bogus"],
    "retrieval_id": ["0" * 32, "not-a-retrieval"],
    "user_id": ["1", "999999"],
}
QUERY = {
    "section": "<script>", "page": "-1", "per_page": "abc", "type": "Bogus", "show": "arn:aws:iam::aws:policy/Nope",
    "q": "x" * 500, "arn": "not-an-arn", "user": ["bad name!", "arthur"], "group": "ghosts", "key": "nope",
    "serial": "nope", "rotate": "nope", "status": "weird", "refresh": "1",
}  # fmt: skip
JUNK_FORM = {
    "confirmation": "wrong", "status": "Deleted", "groups": ["ghosts"], "group": ["ghosts"], "policies": ["nope"],
    "body": "junk", "device_name": "bad name", "code_1": "1", "code_2": "1", "custom_password": "x",
    "console_access": "maybe", "password_type": "other", "key": "nope", "name": "bad name!", "user": ["bad name!"],
    "option": "nope", "document": "{", "policy_name": "", "boundary": "nope", "columns": ["nope"], "per_page": "7",
    "file": "not a file", "rotation": "../x", "serial": "nope", "copy_from": "ghost", "cancel": "",
    "form-TOTAL_FORMS": "2", "form-INITIAL_FORMS": "0", "form-0-key": "aws:x", "form-1-key": "",
    "use_case-use_case": "nope", "description-description": "<>",
}  # fmt: skip


def _patterns(resolver: URLResolver, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            namespace = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            yield from _patterns(entry, namespace)
        elif entry.name:
            yield prefix + entry.name, entry


def _urls() -> Iterator[str]:
    for name, pattern in _patterns(get_resolver()):
        if not name.startswith("users:"):
            continue
        converters = pattern.pattern.converters
        values: list[dict[str, object]] = [{}]
        for parameter, converter in converters.items():
            choices = [uuid.uuid4()] if "UUID" in type(converter).__name__ else PATH_VALUES.get(parameter, ["x"])
            values = [{**kwargs, parameter: value} for kwargs in values for value in choices]
        for kwargs in values:
            try:
                yield reverse(name, kwargs=kwargs)
            except NoReverseMatch:
                continue  # a value the URL cannot carry (a "/")


def test_no_url_answers_500_to_odd_input(iam, operator_client: Client) -> None:
    iam.create_user("arthur")
    iam.create_access_key("arthur")
    iam.create_group("devs")
    operator_client.raise_request_exception = False
    urls = list(_urls())
    assert len(urls) > 100  # the sweep reaches every page
    failures = []
    for url in urls:
        for response in (operator_client.get(url, QUERY), operator_client.post(url, JUNK_FORM)):
            if response.status_code >= 500:
                failures.append(f"{response.request['REQUEST_METHOD']} {url}: {response.status_code}")
    assert failures == []
